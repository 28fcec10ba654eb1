from tests.transfer.conftest import engine_url

__all__ = ["engine_url"]
