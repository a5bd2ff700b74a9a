"""The trained-model store (:mod:`.modelstore`), the plan of the models a run needs
(:mod:`.plan`) and the executors that train the missing ones (:mod:`.executors`).

Layer 7: imports train, models, data, config and the foundation."""
