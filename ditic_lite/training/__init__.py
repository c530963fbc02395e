"""Training of the tiny tier (nothing here runs at inference).

Read in this order:

* :mod:`.recipe`: THE recipe, the named phases that made the shipped checkpoints, in order
  (``ditic-lite train all`` runs it, ``ditic-lite train plan`` prints it);
* :mod:`.stages`: one module per stage, with its config (a dataclass whose defaults are the real
  ones; the CLI's options are built from its fields) and its step (what it starts from, what it
  trains, its loss, what it records);
* :mod:`.config`: the settings every stage has, and the constants the defaults come from;
* :mod:`.step`: the update every stage shares; :mod:`.loop`: the resumable training loop;
* :mod:`.pipeline`: running the recipe (``train all``, the GPU plan);
* :mod:`.runs`: a runs folder as one object (paths, progress, checkpoints, the codec at rate r);
* :mod:`.data`, :mod:`.latent_cache`: the photos, captions and the frozen encoder's latents;
* :mod:`.export`: runs folder <-> shipped checkpoints, with model cards;
* :mod:`.cli`: ``ditic-lite train ...``.
"""
