"""Writing outputs so that a reader sees the old file or the whole new one, never a torn
write (an interrupted savefig leaves a truncated PNG otherwise): the content goes to
PATH.tmp-PID and is renamed over PATH, as src/atomic_file.h does for the C++ programs."""
import os


def _temporary(path):
    return f"{path}.tmp-{os.getpid()}"


def save_figure(fig, path, **kwargs):
    """fig.savefig(path, **kwargs), atomically; the format comes from path's suffix."""
    tmp = _temporary(path)
    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    try:
        fig.savefig(tmp, format=fmt, **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text, newline=None):
    """Write text to path, atomically."""
    path = os.fspath(path)
    tmp = _temporary(path)
    try:
        with open(tmp, "w", newline=newline) as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
