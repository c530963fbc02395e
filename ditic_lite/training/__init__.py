"""Training of the tiny tier (nothing here runs at inference).

Read in this order:

* :mod:`.recipe`: THE recipe, the named phases that made the shipped checkpoints, in order
  (``ditic-lite train all`` runs it, ``ditic-lite train plan`` prints it);
* :mod:`.config`: each stage's settings as one dataclass whose defaults are the real ones (the
  CLI's options are built from its fields), and the constants they come from;
* :mod:`.stages`, :mod:`.realism`: one class per stage: its loss, what it trains, what it loads;
* :mod:`.step`: the update every stage shares; :mod:`.loop`: the resumable training loop;
* :mod:`.runs`: a runs folder as one object (paths, progress, checkpoints, the codec at rate r);
* :mod:`.data`, :mod:`.latent_cache`: the photos, captions and the frozen encoder's latents;
* :mod:`.export`: runs folder <-> shipped checkpoints, with model cards;
* :mod:`.cli`: ``ditic-lite train ...``.
"""
