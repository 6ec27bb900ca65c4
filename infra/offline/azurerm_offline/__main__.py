"""``python -m azurerm_offline``: prepare the mirror and print the variables for manual terraform runs."""

from __future__ import annotations

from azurerm_offline.mirror import prepare_mirror


def main() -> None:
    env = prepare_mirror().env()
    for key in ("TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION", "CHECKPOINT_DISABLE"):
        print(f"export {key}='{env[key]}'")


if __name__ == "__main__":
    main()
