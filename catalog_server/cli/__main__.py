"""`python -m catalog_server.cli` is `catalog-server`."""

from catalog_server.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
