def print_summary(record: dict, job_dir) -> None:
    used = record.get("budget_used", {})
    best = record.get("best_val")
    print(f"[{record['status']}] {record['task']} / {record['scheduler']} / {record['warmstart']} "
          f"seed {record['seed']}: {record['n_trials']} trials, "
          f"best {record['metric']} {'n/a' if best is None else f'{best:.4f}'} "
          f"(test {record.get('test_of_best') or float('nan'):.4f}), "
          f"{used.get('epochs', 0)} epochs, {record['wallclock_s']:.1f} s wall-clock, "
          f"{used.get('device_s', 0):.1f} device-s\n  results: {job_dir}")
