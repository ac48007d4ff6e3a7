"""Runtime configuration: one frozen settings object built from the environment."""

import contextlib
import warnings

from config.settings import Settings, SettingsError, load_settings

# confluent-kafka's registry client imports authlib's httpx integration, which warns
# about its own future on every import; the warning is not ours to act on. authlib
# installs an "always" filter for its warnings when imported, so ours must come after.
with contextlib.suppress(ImportError):
    import authlib.deprecate  # noqa: F401
warnings.filterwarnings("ignore", message="The httpx module is deprecated")

__all__ = ["Settings", "SettingsError", "load_settings"]
