"""The constructive results of Wang, Lacotte & Pilanci (ICLR 2022) as library calls.

* reduce.py      scale, merge per cone (Prop. 1 / Prop. 3), prune to at most n + 1 neurons
                 along a path of constant objective (Lemma 1 / Prop. 6);
* optimal_set.py P*, m*, uniqueness (App. D) and the optimal networks (Thm. 1, eq. 11);
* path.py        the explicit non-increasing path of section 5 (Prop. 6 and 7);
* landscape.py   what the papers guarantee for a given n, d and width m.

docs/constructive.md describes each command and the theorem it implements.
"""
