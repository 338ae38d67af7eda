"""Demo traffic: the record type every family's generator yields and the producers that send it
(`traffic`); each family's own generator is its `demo` module."""
