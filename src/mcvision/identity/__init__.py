"""Identity: local tracks of every camera become one global ID per person per day.

The matching cost of a track to an identity, solved jointly (Hungarian) over all
ready tracks (:mod:`mcvision.identity.manager` has the details)::

    cost = (1 − appearance similarity)        ReID cosine, track mean vs gallery
         + geometry term                       same-moment floor distance on
                                               calibrated overlapping cameras:
                                               −floor_weight on one spot … +floor_weight
         [+ ∞: topology / geometry gates]      one frame twice on one camera, a transit
                                               faster than its min_s, concurrent on
                                               cameras that do not overlap, seen
                                               > floor_apart_m apart at one moment,
                                               a transit not walkable at
                                               max_walk_speed_mps

and a pair is taken only when ``cost ≤ 1 − match_threshold`` (a new identity
otherwise). Late correction (:mod:`mcvision.identity.correction`) merges two IDs
later shown to be one person by more embeddings or by a floor coincidence.
"""
