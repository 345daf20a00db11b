#include "autograd/record_op.h"

namespace cs {

namespace {
OpObserver*& observer_slot() {
  thread_local OpObserver* observer = nullptr;
  return observer;
}
}  // namespace

OpObserver* op_observer() { return observer_slot(); }
void set_op_observer(OpObserver* o) { observer_slot() = o; }

}  // namespace cs
