"""chronodelta: the Protime Connector API with delta synchronization, server and client."""

__version__ = "0.1.0"
