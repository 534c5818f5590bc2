"""Analysis of replicate records: T@tau, paired statistics, plots and a report."""
