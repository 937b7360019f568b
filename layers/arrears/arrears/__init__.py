"""arrears: the collections domain core (pure Python) and its AWS adapters."""
