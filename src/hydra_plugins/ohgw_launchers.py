"""ohgw-bench's Hydra launcher (Hydra finds launchers only in the hydra_plugins namespace).

Light to import: Hydra imports every module here at each start."""
import sys

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher


class CheckedSlurmLauncher(SlurmLauncher):
    """Hydra's submitit Slurm launcher that first checks every job's config as a replicate
    does at its start, minus what depends on the machine (devices, data): a bad value is one
    line and exit status 2 before anything is queued, not a failed array task later."""

    def launch(self, job_overrides, initial_job_idx):
        from ohgw.errors import ConfigError
        from ohgw.tuner.replicate import check_config

        for idx, overrides in enumerate(job_overrides, initial_job_idx):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            try:
                check_config(cfg)
            except ConfigError as e:
                print(f"error: job #{idx} ({' '.join(overrides)}): {e}", file=sys.stderr)
                sys.exit(2)
        return super().launch(job_overrides, initial_job_idx)
