"""The records of runs: one typed record per chain run, written whole or not at all, with paths relative to the
project (run_record and its parts); the work dir's index of them and its history (what ran, what a stage
produced, where it finished). Running (run/) writes them; status, report and --resume read them."""
