"""One message at a time: load the cycle, let the saga decide, save and send what it decided."""
