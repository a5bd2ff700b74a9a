"""``vaebench store list|clear``: what the trained-model store holds."""
from __future__ import annotations


def cmd_store(args) -> int:
    from vaebench.store.modelstore import ModelStore

    store = ModelStore(args.store, progress=False)
    if args.action == "clear":
        n = store.clear()
        print(f"removed {n} entries from {store.root}")
        return 0
    entries = store.entries()
    print(f"store: {store.root} ({len(entries)} entries)")
    for e in entries:
        loss = e.history.get("loss", [float("nan")])[-1]
        stopped = e.meta.get("stopped")
        data_fp = (e.key_parts or {}).get("data_fingerprint", "")[:8]
        print(f"  {e.name:56s} {e.data.source}:{e.data.image_size}px n={e.data.n_train} data={data_fp} "
              f"epochs={len(e.history.get('loss', []))}/{e.train.epochs} loss={loss:.2f} "
              f"{store.size_bytes(e.path) / 1e6:.1f} MB {e.meta.get('created', '')}"
              + (f" STOPPED: {stopped}" if stopped else ""))
    for name, problem in store.damaged():
        print(f"  {name}: NOT LOADED ({problem})")
    return 0
