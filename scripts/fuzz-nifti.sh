#!/usr/bin/env bash
# Fuzzes the NIfTI reader: scripts/fuzz-nifti.sh [SECONDS] [libFuzzer args...] (see scripts/fuzz.sh).
exec "$(dirname "$0")/fuzz.sh" nifti "$@"
