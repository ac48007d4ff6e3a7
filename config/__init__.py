"""Runtime configuration: one frozen settings object built from the environment."""

from config.settings import Settings, SettingsError, load_settings

__all__ = ["Settings", "SettingsError", "load_settings"]
