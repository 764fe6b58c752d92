"""vcsmatch: match people to community and voluntary-sector services.

vcsmatch supports a practitioner's decision and never makes it: every suggestion carries the
reasons that produced it, and nothing acts on a suggestion automatically.
"""

__version__ = "0.1.0"
