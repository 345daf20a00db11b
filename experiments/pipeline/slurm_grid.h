#pragma once
// The Slurm executor of reproduce (docs/cluster.md): the grid of a reproduce folder as Slurm jobs.
// In OUT/slurm/<table>/ (<table>: results_stem): config.json (the resolved config the jobs read),
// one sbatch script per pre-training, finetune.sbatch (a job array, one task per fine-tuning run),
// table.sbatch, manifest.json (the tasks, their folders and job ids), logs/ (each job's output) and
// state/ (each task's last exit status). Jobs are chained with afterok and
// --kill-on-invalid-dep=yes, so a failed task cancels what needs it. Each job runs
// `contraseg reproduce --task ID` (run_reproduce_task): the same code as a local run, so a job that
// finds its run finished returns at once and a killed one resumes; a resubmission submits only
// what is not finished. A job warned by Slurm before its time limit (--signal=B:USR1) checkpoints
// and requeues itself (preemption.h).
#include <string>
#include <vector>

#include "experiments/pipeline/reproduce.h"

namespace cs {

struct SlurmOptions {
  std::string partition, account, time;  // "" = the cluster's default
  int gpus_per_task = 0;                 // --gres=gpu:N
  int cpus_per_task = 1;
  int array_limit = 0;                   // at most this many fine-tuning tasks at once (%N); 0 = no limit
  std::vector<std::string> sbatch_lines;  // extra "#SBATCH ..." lines, verbatim
  bool dry_run = false;                  // write the scripts, submit nothing
  bool wait = false;                     // return when the grid's jobs have left the queue
};

// Writes the scripts and submits the tasks not finished. Refuses (naming them) while jobs of an
// earlier submission of this table are queued or running. Returns 0, or with `wait` 0 when the
// table was written and 1 otherwise (after printing grid_status).
int submit_grid(const Settings& settings, const ReproduceOptions& opt, const SlurmOptions& slurm);

// The state of every task of every grid submitted into `out`, from the run folders, the tasks'
// exit statuses and the queue (squeue, scontrol; no accounting needed); with `wait`, once none of
// their jobs is left in the queue (a line whenever the counts of queued and running jobs change).
// Returns 1 when a task failed or a job ended without finishing its task, else 0.
int grid_status(const std::string& out, bool wait = false);

// A path or word for a POSIX shell, in single quotes.
std::string shell_quote(const std::string& s);

}  // namespace cs
