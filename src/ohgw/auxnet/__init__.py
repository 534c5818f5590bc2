"""scheduler=aux_net: a network that predicts a task's hyperparameters from its meta-features,
trained on the best configurations earlier tuning runs found for other tasks.

    features (a task -> its meta-feature vector) -> net (encode a space, fit, predict)
    -> predict (earlier records -> a prediction for one task) -> searcher (Syne Tune)
"""
