"""The tuner's count of device time: a device-hours limit holds between a trial's reports, since
a running trial's seconds are counted while it runs, not only when it next reports."""
import time

from syne_tune.backend.trial_status import Status, Trial

from ohgw.tuner.budget import Budget
from ohgw.tuner.recorder import ResultsRecorder
from ohgw.tuner.replicate import bind


def trial(i: int) -> Trial:
    return Trial(trial_id=i, config={"log_lr": -1.0}, creation_time=None)


def test_a_running_trials_seconds_count_between_its_reports():
    recorder = ResultsRecorder(["log_lr"])
    budget = bind(Budget(device_hours=2.0 / 3600), recorder)  # a limit of 2 device-seconds
    recorder.on_trial_result(trial(0), Status.in_progress, {"epoch": 1, "elapsed_s": 0.5}, "CONTINUE")
    assert recorder.device_s() == 0.5 and not budget(None)  # not running: its last report's seconds
    recorder.on_fetch_status_results({0: (trial(0), Status.in_progress)}, [])
    time.sleep(0.6)
    assert 1.05 <= recorder.device_s() < 1.5 and not budget(None)
    time.sleep(1.0)
    assert recorder.device_s() >= 2.0 and budget(None)  # the limit is reached with no new report
    recorder.on_trial_result(trial(0), Status.in_progress, {"epoch": 2, "elapsed_s": 2.2}, "CONTINUE")
    assert 2.2 <= recorder.device_s() < 2.4  # the report's own count replaces the estimate
    recorder.on_fetch_status_results({0: (trial(0), Status.stopped)}, [])
    assert recorder.device_s() == 2.2  # ended: no longer counting


def test_the_count_goes_on_across_a_saved_and_loaded_tuner():
    import pickle

    recorder = ResultsRecorder(["log_lr"])
    recorder.on_trial_result(trial(0), Status.in_progress, {"epoch": 1, "elapsed_s": 3.0}, "CONTINUE")
    recorder.on_fetch_status_results({0: (trial(0), Status.in_progress)}, [])
    time.sleep(0.2)
    loaded = pickle.loads(pickle.dumps(recorder))
    assert loaded.running_since == {} and loaded.device_s() == 3.0  # this process's clock is not the saved one's
    assert loaded.now() >= 0.2 and loaded.rows == recorder.rows
