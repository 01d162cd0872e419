"""Deterministic fake EVM JSON-RPC node for the USDX/Wexel sandbox.

Block N has timestamp genesis + N * CHAIN_BLOCK_TIME; the head is derived from the wall
clock, so nothing runs in the background. The genesis time is persisted in
CHAIN_DATA_DIR/genesis.json, so restarts (rpc-down) continue the same chain.

Test-only: `usdx_sandboxDeposit` puts a vault deposit (a USDX Transfer into the vault and the vault's Deposit
log) into the next block, after that block's own transactions, as a wallet's signed deposit would be mined.
Submitted deposits are kept in CHAIN_DATA_DIR/deposits.json, so they outlive a restart like the chain does.
"""
import hashlib
import json
import os
import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler

from usdx_common import Logger, env, env_float, env_int, serve

log = Logger("chain")

CHAIN_ID = env_int("CHAIN_ID", 31337)
BLOCK_TIME = env_float("CHAIN_BLOCK_TIME", 1.0)
DATA_DIR = env("CHAIN_DATA_DIR", "/var/lib/usdx-chain")
HISTORY = env_int("CHAIN_HISTORY_BLOCKS", 120)
MAX_LOG_RANGE = env_int("CHAIN_MAX_LOG_RANGE", 5000)

USDX_TOKEN = "0x5d3a1ff2b6bab83b63cd9ad0787074081a52ef34"
WEXEL_VAULT = "0x7e1e0b6c4a0a5f2c9d8e3b1a4c6d8f0e2a4b6c8d"
TRANSFER_SIG = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
DEPOSIT_SIG = "0xe1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c"
ZERO_BLOOM = "0x" + "0" * 512


def load_genesis():
    path = os.path.join(DATA_DIR, "genesis.json")
    try:
        with open(path) as fh:
            return float(json.load(fh)["genesis_time"])
    except (OSError, ValueError, KeyError):
        pass
    genesis = float(int(time.time() - HISTORY * BLOCK_TIME))
    os.makedirs(DATA_DIR, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"genesis_time": genesis, "chain_id": CHAIN_ID, "block_time": BLOCK_TIME}, fh)
    os.replace(tmp, path)
    log.info("created new chain: genesis %s (%d blocks of history)", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(genesis)), HISTORY)
    return genesis


GENESIS = load_genesis()
DEPOSITS_FILE = os.path.join(DATA_DIR, "deposits.json")
ADDRESS_RE = re.compile(r"^0x[0-9a-f]{40}$")
MAX_DEPOSIT = 10 ** 30


def load_deposits():
    """Block number -> the sandbox deposits mined in it, from deposits.json."""
    try:
        with open(DEPOSITS_FILE) as fh:
            entries = json.load(fh)
    except (OSError, ValueError):
        entries = []
    by_block = {}
    for entry in entries:
        by_block.setdefault(entry["block"], []).append(entry)
    return by_block


_deposits_lock = threading.Lock()
_deposits = load_deposits()


def h(*parts):
    return "0x" + hashlib.sha3_256(":".join(str(p) for p in (CHAIN_ID, GENESIS) + parts).encode()).hexdigest()


def addr(rng):
    return "0x" + "%040x" % rng.getrandbits(160)


def pad(address):
    return "0x" + address[2:].rjust(64, "0")


def head():
    return max(0, int((time.time() - GENESIS) / BLOCK_TIME))


def block_txs(n):
    """Deterministic transactions (with their logs) of block n, then the sandbox deposits mined in it."""
    if n == 0:
        return []
    rng = random.Random("%s:%s:%s" % (CHAIN_ID, GENESIS, n))
    planned = [(h("tx", n, i), None, None) for i in range(rng.randint(0, 3))]
    with _deposits_lock:
        planned += [(d["tx_hash"], d["from"], d["amount"]) for d in _deposits.get(n, ())]
    txs, log_index = [], 0
    for i, (tx_hash, user, amount) in enumerate(planned):
        logs = []
        if user is None:
            user = addr(rng)
            amount = rng.randint(1, 50_000) * 10 ** 6
            is_deposit = rng.random() < 0.5
        else:
            is_deposit = True
        if is_deposit:  # deposit: USDX transfer into the vault + vault Deposit event
            logs.append((USDX_TOKEN, [TRANSFER_SIG, pad(user), pad(WEXEL_VAULT)], amount))
            logs.append((WEXEL_VAULT, [DEPOSIT_SIG, pad(user)], amount))
            to = WEXEL_VAULT
        else:  # plain USDX transfer
            to = addr(rng)
            logs.append((USDX_TOKEN, [TRANSFER_SIG, pad(user), pad(to)], amount))
        out_logs = []
        for contract, topics, value in logs:
            out_logs.append({
                "address": contract, "topics": topics, "data": "0x%064x" % value,
                "blockNumber": hex(n), "blockHash": h("block", n), "transactionHash": tx_hash,
                "transactionIndex": hex(i), "logIndex": hex(log_index), "removed": False,
            })
            log_index += 1
        txs.append({"hash": tx_hash, "from": user, "to": USDX_TOKEN if to != WEXEL_VAULT else WEXEL_VAULT,
                    "transactionIndex": hex(i), "logs": out_logs})
    return txs


def block(n, full):
    txs = block_txs(n)
    transactions = [t["hash"] for t in txs]
    if full:
        transactions = [{"hash": t["hash"], "from": t["from"], "to": t["to"], "blockNumber": hex(n),
                         "blockHash": h("block", n), "transactionIndex": t["transactionIndex"],
                         "value": "0x0", "gas": "0x186a0", "input": "0x"} for t in txs]
    return {
        "number": hex(n), "hash": h("block", n), "parentHash": h("block", n - 1) if n else "0x" + "0" * 64,
        "timestamp": hex(int(GENESIS + n * BLOCK_TIME)), "miner": "0x" + "0" * 40, "nonce": "0x0000000000000000",
        "difficulty": "0x0", "gasLimit": "0x1c9c380", "gasUsed": hex(52_000 * len(txs)), "baseFeePerGas": "0x3b9aca00",
        "logsBloom": ZERO_BLOOM, "size": hex(600 + 200 * len(txs)), "transactions": transactions, "uncles": [],
    }


class RpcFail(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def block_arg(value, current):
    if value in (None, "latest", "pending", "safe", "finalized"):
        return current
    if value == "earliest":
        return 0
    try:
        return int(value, 16)
    except (TypeError, ValueError):
        raise RpcFail(-32602, "invalid block number: %r" % (value,))


def get_logs(flt):
    current = head()
    if "blockHash" in flt:
        raise RpcFail(-32602, "blockHash filters are not supported by the sandbox chain")
    frm, to = block_arg(flt.get("fromBlock"), current), block_arg(flt.get("toBlock"), current)
    to = min(to, current)
    if to - frm + 1 > MAX_LOG_RANGE:
        raise RpcFail(-32005, "query exceeds max block range %d" % MAX_LOG_RANGE)
    addresses = flt.get("address")
    if isinstance(addresses, str):
        addresses = [addresses]
    addresses = {a.lower() for a in addresses} if addresses else None
    topics = flt.get("topics") or []
    out = []
    for n in range(max(frm, 0), to + 1):
        for tx in block_txs(n):
            for entry in tx["logs"]:
                if addresses and entry["address"] not in addresses:
                    continue
                ok = True
                for pos, want in enumerate(topics):
                    if want is None:
                        continue
                    want = [want] if isinstance(want, str) else want
                    if pos >= len(entry["topics"]) or entry["topics"][pos] not in want:
                        ok = False
                        break
                if ok:
                    out.append(entry)
    return out


def quantity(value, what):
    """A JSON-RPC quantity ("0x..." or a plain integer) -> int."""
    if isinstance(value, bool):
        raise RpcFail(-32602, "invalid %s: %r" % (what, value))
    if isinstance(value, int):
        return value
    try:
        return int(value, 16)
    except (TypeError, ValueError):
        raise RpcFail(-32602, "invalid %s: %r" % (what, value))


def address_arg(value):
    if not isinstance(value, str) or not ADDRESS_RE.match(value.lower()):
        raise RpcFail(-32602, "invalid address: %r" % (value,))
    return value.lower()


def deposits_from(address, up_to):
    with _deposits_lock:
        return sum(1 for block_no, entries in _deposits.items() if block_no <= up_to for d in entries if d["from"] == address)


def sandbox_deposit(params):
    """usdx_sandboxDeposit [{"from": address, "amount": quantity}] -> the deposit's transaction hash and block.

    The deposit goes into the block after the current head, so an indexer that has read the head sees it in the
    next block it reads. The hash depends only on the chain, the sender, the amount and the deposit's sequence number.
    """
    if not params or not isinstance(params[0], dict):
        raise RpcFail(-32602, "usdx_sandboxDeposit takes one object: {\"from\": address, \"amount\": quantity}")
    sender = address_arg(params[0].get("from"))
    amount = quantity(params[0].get("amount"), "amount")
    if not 0 < amount <= MAX_DEPOSIT:
        raise RpcFail(-32602, "invalid amount: %d (1 to %d)" % (amount, MAX_DEPOSIT))
    with _deposits_lock:
        seq = sum(len(entries) for entries in _deposits.values())
        entry = {"block": head() + 1, "from": sender, "amount": amount, "tx_hash": h("sandbox-deposit", sender, amount, seq)}
        everything = [d for entries in _deposits.values() for d in entries] + [entry]
        tmp = DEPOSITS_FILE + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(everything, fh)
        os.replace(tmp, DEPOSITS_FILE)
        _deposits.setdefault(entry["block"], []).append(entry)
    log.info("sandbox deposit %s: %d from %s in block %d", entry["tx_hash"], amount, sender, entry["block"])
    return {"transactionHash": entry["tx_hash"], "blockNumber": hex(entry["block"]), "from": sender, "amount": hex(amount)}


def dispatch(method, params):
    if method == "eth_chainId":
        return hex(CHAIN_ID)
    if method == "net_version":
        return str(CHAIN_ID)
    if method == "web3_clientVersion":
        return "usdx-sandbox-chain/1.0"
    if method == "eth_syncing":
        return False
    if method == "eth_blockNumber":
        return hex(head())
    if method == "eth_getBlockByNumber":
        current = head()
        n = block_arg(params[0] if params else "latest", current)
        if n > current:
            return None
        return block(n, bool(params[1]) if len(params) > 1 else False)
    if method == "eth_getLogs":
        return get_logs(params[0] if params else {})
    if method == "eth_getBalance":  # deterministic per address, in wei
        return hex(int(h("balance", address_arg(params[0]))[2:18], 16) % 10 ** 21)
    if method == "eth_getTransactionCount":  # a per-address start, plus its sandbox deposits mined so far
        address = address_arg(params[0])
        upto = block_arg(params[1] if len(params) > 1 else "latest", head())
        return hex(int(h("nonce", address)[2:6], 16) % 100 + deposits_from(address, upto))
    if method == "usdx_sandboxDeposit":
        return sandbox_deposit(params)
    raise RpcFail(-32601, "the method %s does not exist/is not available" % method)


def handle_one(req):
    rid = req.get("id") if isinstance(req, dict) else None
    try:
        if not isinstance(req, dict) or "method" not in req:
            raise RpcFail(-32600, "invalid request")
        params = req.get("params") or []
        return {"jsonrpc": "2.0", "id": rid, "result": dispatch(req["method"], params)}
    except RpcFail as exc:
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": exc.code, "message": str(exc)}}
    except (IndexError, TypeError, AttributeError) as exc:
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "invalid params: %s" % exc}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "usdx-sandbox-chain/1.0"

    def log_message(self, fmt, *args):
        pass

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path in ("/", "/health"):
            self._send(200, {"status": "ok", "chain_id": CHAIN_ID, "block_number": head()})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null")
        except ValueError:
            self._send(200, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            return
        if isinstance(body, list):
            self._send(200, [handle_one(r) for r in body])
        else:
            self._send(200, handle_one(body))


def main():
    port = env_int("CHAIN_PORT", 8545)
    serve(port, Handler, log, "JSON-RPC listening on :%d (chain id %d, block time %ss, head %d)", port, CHAIN_ID, BLOCK_TIME, head())


if __name__ == "__main__":
    main()
