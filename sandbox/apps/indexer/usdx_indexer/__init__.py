"""USDX/Wexel blockchain indexer (sandbox edition)."""
LOG_FILE_DEFAULT = "/var/log/usdx-wexel/indexer.log"
ACCESS_LOG_FILE_DEFAULT = "/var/log/usdx-wexel/indexer-access.log"
