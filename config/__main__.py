"""``python -m config``: print the settings as shell exports (``make env``)."""

from config.settings import main

main()
