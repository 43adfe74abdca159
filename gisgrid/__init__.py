"""gisgrid: grid assessment (网格化管理考核) for city management offices."""

__version__ = "0.1.0"
