"""The published study's figures, as stored data: what the report sets this
run's figures beside. Its METHOD (the protocol) lives elsewhere; these are
only the numbers the paper printed, each with where it stands in the paper.

The study: Optuna TPE over a frozen EfficientNet-B2 with an MLP head on
C-NMC 2019 (image-level split), 20 trials x 10 epochs, then the best
configuration trained 3 times x 40 epochs and measured on the test set.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedStudy:
    name: str
    trials: int  # searched configurations
    trial_epochs: int  # epochs per trial
    runs: int  # independent training runs of the best configuration
    run_epochs: int  # epochs per run
    best_val_accuracy: float  # the best trial's validation accuracy
    test_accuracy: float  # the final model's test accuracy
    test_auc: float  # mean AUC-ROC over the runs
    test_auc_sd: float  # its standard deviation over the runs
    importances: tuple[tuple[str, float], ...]  # (parameter, fANOVA share), most important first
    importance_method: str = "fANOVA (Optuna's default evaluator)"

    @property
    def test_auc_cv(self) -> float:
        """Coefficient of variation of the AUC over runs (SD / mean)."""
        return self.test_auc_sd / self.test_auc

    @property
    def optimism(self) -> float:
        """How far the best trial's validation accuracy sits above the test accuracy."""
        return self.best_val_accuracy - self.test_accuracy


STUDY = PublishedStudy(
    name="the published study (EfficientNet-B2 + MLP head, Optuna TPE, C-NMC 2019)",
    trials=20,
    trial_epochs=10,
    runs=3,
    run_epochs=40,
    best_val_accuracy=0.9686,
    test_accuracy=0.8672,
    test_auc=0.920,
    test_auc_sd=0.008,
    importances=(("lr", 0.55), ("dropout1", 0.34)),
)
