from tests.server.sandbox_server import clean, sandbox

__all__ = ["clean", "sandbox"]
