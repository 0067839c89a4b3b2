"""The reply side: this process's reply queue and its one consumer, grouped request sends, dead letters."""
