#include "llm/verify/code_harness.h"

#include <fmt/format.h>

#include <random>

namespace disa::llm::verify {
namespace {

// Shared by the drivers: run a file in a namespace, report the first failure.
constexpr const char* kDriverCommon = R"PY(import sys, os, json, copy, math, traceback
MARK = @MARKER@
# The verdict lines start with a newline: a program whose own output ends without one
# (sys.stdout.write("x"), print(..., end="")) must not glue it to the marker, which the
# verifier looks for at the start of the last line.
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)  # outputs such as special_factorial(505) print in full

def report(reason):
    sys.stdout.flush()
    print("\n" + MARK + " " + " ".join(str(reason).split())[:300], file=sys.stderr)
    sys.exit(1)

def run_file(path, ns):
    with open(path) as f:
        source = f.read()
    exec(compile(source, path, "exec"), ns)

def error_line(e):
    return traceback.format_exception_only(type(e), e)[-1].strip()

# The check driver's parent raises ProgramError with the verdict of a call its child
# answered with an error; it runs only the tests itself, so an exit() there is theirs.
class ProgramError(Exception):
    pass

EXIT_CALLER = "the program"

def guarded(what, fn):
    try:
        return fn()
    except ProgramError as e:
        report(str(e))
    except SystemExit as e:
        report("runtime error: {} called exit({}) {}".format(EXIT_CALLER, e.code, what))
    except MemoryError:
        report("runtime error: MemoryError")
    except RecursionError as e:
        report("runtime error: " + error_line(e))
    except AssertionError as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == "tests.py"]
        where = "failed test at tests.py:{}: {}".format(frames[-1].lineno, frames[-1].line) if frames else "failed test: " + error_line(e)
        report(where)
    except BaseException as e:
        report("runtime error: " + error_line(e))
)PY";

// HumanEval+: how the reference's outputs travel to the candidate's run and are
// compared there. An output whose pickle is over LARGE bytes and that is compared
// exactly travels as two digests (HumanEval+ 15 and 130 return 147 and 90 MB in all):
// of its pickle, and of its pickle after `canon`, which maps equal data of other types
// to one form (Python's ==: 2.0 and True are 2 and 1; dict and set items sorted), so
// that a list of ints still matches the reference's list of integral floats.
constexpr const char* kValueHelpers = R"PY(import io, pickle, hashlib, reprlib
LARGE = 1 << 16

class _Short(reprlib.Repr):
    # The decimal digits of a huge integer take quadratic time (special_factorial).
    def repr_int(self, x, level):
        if x.bit_length() > 4000:
            return "<an integer of {} bits>".format(x.bit_length())
        return reprlib.Repr.repr_int(self, x, level)

_short = _Short()
_short.maxstring = _short.maxother = _short.maxlong = 80
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = _short.maxfrozenset = 20

def short(x):
    try:
        text = _short.repr(x)
    except BaseException:
        text = "<unprintable {}>".format(type(x).__name__)
    return text if len(text) <= 80 else text[:80] + "..."

def plain_pickle(x):
    # No memo: equal data give the same bytes however their objects are shared.
    f = io.BytesIO()
    p = pickle.Pickler(f, 4)
    p.fast = True
    p.dump(x)
    return f.getvalue()

_SIMPLE = {int, str, bytes, type(None)}

def canon(x):
    t = type(x)
    if t in _SIMPLE:
        return x
    if t is bool:
        return int(x)
    if t is float:
        return int(x) if x.is_integer() else x
    if t is list or t is tuple:
        return x if set(map(type, x)) <= _SIMPLE else t(map(canon, x))
    if t is dict:
        return ("\0disa-dict", sorted((plain_pickle(canon(k)), canon(v)) for k, v in x.items()))
    if t is set or t is frozenset:
        return ("\0disa-set", sorted(plain_pickle(canon(v)) for v in x))
    raise TypeError("no canonical form for " + t.__name__)

def digest(x):
    return hashlib.sha256(plain_pickle(x)).digest()

def is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(v, float) for v in x)
    return False
)PY";

// The reference's run: its outputs on every input, as a pickled list with one record
// per input: None (the reference raised: the input tests nothing), ("value", output),
// or ("digests", pickle digest, canonical digest or None, short repr). Printed after
// `\n<marker> expected <bytes>\n` as the only stdout (the reference's prints go nowhere).
constexpr const char* kReferenceDriver = R"PY(
sys.stdout = open(os.devnull, "w")
atol = @ATOL@
with open("inputs.json") as f:
    inputs = json.load(f)
ref_ns = {"__name__": "reference"}
run_file("reference.py", ref_ns)
reference = ref_ns[@ENTRY_REPR@]
records = []
for args in inputs:
    try:
        want = reference(*copy.deepcopy(args))
    except BaseException:
        records.append(None)
        continue
    if atol == 0 and not is_floats(want):
        try:
            data = plain_pickle(want)
        except Exception:
            data = b""  # cyclic or unpicklable: sent whole (and the payload says so if it cannot)
        if len(data) > LARGE:
            try:
                canonical = digest(canon(want))
            except Exception:
                canonical = None
            records.append(("digests", hashlib.sha256(data).digest(), canonical, short(want)))
            continue
    records.append(("value", want))
payload = pickle.dumps(records, 4)
data = memoryview(("\n" + MARK + " expected " + str(len(payload)) + "\n").encode() + payload)
while data:
    data = data[os.write(1, data):]
)PY";

constexpr const char* kCheckDriver = R"PY(
# The program runs in a process of its own, forked here before anything is read: it
# never holds the tests, the reference's outputs or the verdict's way out. This
# process (the parent) runs no code of the program's: it loads the prompt (the
# dataset's own helpers) and the tests in a namespace of its own, gives check() a
# function that calls the candidate in the child and waits for its answer, compares
# the answers, and prints the verdict after it has killed the child. The child's fds
# 1 and 2 are /dev/null (only the verdict counts for a check task), and it keeps no
# other descriptor than its two pipes. Before, the program shared this process: it
# could print the marker and a pass itself (import __main__; __main__.MARK), replace
# guarded() or plain_results(), or shadow a name the tests use (abs = lambda x: 0).
import marshal, signal
ENTRY = @ENTRY_REPR@
# The run directory (the script's, sys.path[0]) is the child's to write: the parent
# imports nothing from it, or a "typing.py" the program wrote would run here when the
# prompt's "from typing import List" is loaded (a review printed a pass that way).
_run_dir = os.path.realpath(os.getcwd())
sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != _run_dir]
sys.path_importer_cache.clear()
_to_child_r, _to_child_w = os.pipe()
_to_parent_r, _to_parent_w = os.pipe()
_child = os.fork()

# Plain data is built only from the exact built-in types below (type(x) is one of
# them: a subclass of int can override __eq__ too, and a class can claim any
# __module__ or __name__). Types are compared by id (a metaclass can define hash and ==
# at will); the traversal is iterative and sees each container once.
PLAIN_SCALARS = (int, float, complex, bool, str, bytes, type(None))
PLAIN_CONTAINERS = (list, tuple, dict, set, frozenset)

def foreign_type(x, type=type, id=id, set=set, map=map, scalars=frozenset(map(id, PLAIN_SCALARS)),
                 containers=frozenset(map(id, PLAIN_CONTAINERS)), dict_id=id(dict)):
    """The type of an object in x that is not plain data, or None."""
    t = id(type(x))
    if t in scalars:
        return None
    if t not in containers:
        return type(x)
    seen = set()
    stack = [x]
    while stack:
        v = stack.pop()
        t = id(type(v))
        if t not in containers:
            if t in scalars:
                continue
            return type(v)
        if id(v) in seen:
            continue
        seen.add(id(v))  # x holds v, so its id is not reused while this runs
        for part in ((v.keys(), v.values()) if t == dict_id else (v,)):
            kinds = set(map(id, map(type, part)))
            if kinds <= scalars:
                continue
            if kinds - scalars - containers:
                for e in part:
                    k = id(type(e))
                    if k not in scalars and k not in containers:
                        return type(e)
            stack.extend(part)
    return None

def write_all(fd, data, write=os.write):
    data = memoryview(data)
    while data:
        data = data[write(fd, data):]

def read_exact(fd, n, read=os.read):
    parts = []
    while n > 0:
        chunk = read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)

def send(fd, data):
    write_all(fd, len(data).to_bytes(8, "little") + data)

def receive(fd):
    header = read_exact(fd, 8)
    if header is None:
        return None
    return read_exact(fd, int.from_bytes(header, "little"))
)PY";

// The child: waits for the parent's go (sent once every harness file is read and
// removed), loads the program and serves calls. Arguments come pickled (from the
// parent, trusted); answers go back marshalled: marshal writes only exact built-in
// types (a subclass of int or str, or an object with an __eq__ of its own, is
// "unmarshallable"), and whatever the child sends, the parent checks again.
constexpr const char* kCheckChild = R"PY(
if _child == 0:
    os.close(_to_child_w)
    os.close(_to_parent_r)
    _null = os.open(os.devnull, os.O_RDWR)
    for _fd in (0, 1, 2):
        os.dup2(_null, _fd)
    _keep = sorted((_to_child_r, _to_parent_w))
    os.closerange(3, _keep[0])
    os.closerange(_keep[0] + 1, _keep[1])
    os.closerange(_keep[1] + 1, 65536)
    _dumps, _exit, _loads = marshal.dumps, os._exit, pickle.loads
    _type, _name_of, _str = type, type.__dict__["__name__"].__get__, str  # the program may replace builtins.type

    def type_name(t):
        name = _name_of(t)
        return name if _type(name) is _str else "<a class named by a str subclass>"

    def answer(reply, send=send, dumps=_dumps, fd=_to_parent_w, exit=_exit):
        try:
            send(fd, dumps(reply))
        except BaseException:
            exit(3)

    def failure(e, error_line=error_line):
        # (kind, text): "exit" the exit code, "fatal" a reason, "raise" an exception
        # the tests may catch, "assert" an AssertionError.
        if isinstance(e, SystemExit):
            return ("exit", str(e.code))
        if isinstance(e, MemoryError):
            return ("fatal", "runtime error: MemoryError")
        if isinstance(e, AssertionError):
            return ("assert", error_line(e))
        if isinstance(e, Exception):
            return ("raise", "runtime error: " + error_line(e))
        return ("fatal", "runtime error: " + error_line(e))

    if receive(_to_child_r) is None:
        _exit(0)
    ns = {"__name__": "solution"}
    try:
        run_file("solution.py", ns)
        fn = ns[ENTRY] if ENTRY in ns else None
    except BaseException as e:
        answer(failure(e))
        _exit(0)
    answer(("ready",) if fn is not None else ("missing",))
    while True:
        request = receive(_to_child_r)
        if request is None:
            _exit(0)
        try:
            args, kwargs = _loads(request)
            result = fn(*args, **kwargs)
            bad = foreign_type(result)
            if bad is not None:
                answer(("foreign", type_name(bad),
                        "an object" if _type(result) is bad else "a " + type_name(_type(result)) + " holding an object"))
                continue
            try:
                data = _dumps(("ok", result))
            except ValueError as e:
                answer(("fatal", "runtime error: the result cannot be sent: " + str(e)))
                continue
        except BaseException as e:
            answer(failure(e))
            continue
        try:
            send(_to_parent_w, data)
        except BaseException:
            _exit(3)
)PY";

constexpr const char* kCheckParent = R"PY(
os.close(_to_child_r)
os.close(_to_parent_w)
# Same uid, other process: without this the child could open /proc/<parent>/fd/1 and
# write a verdict, or ptrace this process. Where it cannot be done the check ends with
# no pass (below, once report() exists), rather than run unguarded.
try:
    import ctypes
    _undumpable = ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE 0
except Exception:
    _undumpable = False

def stop_child():
    global _child
    if _child:
        try:
            os.kill(_child, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.waitpid(_child, 0)
        except OSError:
            pass
        _child = 0

# The verdict, written as report() writes it but with the child killed first, and the
# process ended at once (report()'s SystemExit inside guarded() would give a second
# verdict, "the program called exit(1)").
def report(reason):
    stop_child()
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(2, ("\n" + MARK + " " + " ".join(str(reason).split())[:300] + "\n").encode())
    os._exit(1)

if not _undumpable:
    report("harness error: prctl(PR_SET_DUMPABLE, 0) failed, so the program could read or trace the checker")

def child_ended():
    # The child's pipe closed: say how it ended (a signal is passed on, so that the
    # sandbox sees SIGXCPU or SIGKILL after the cpu limit as it would have).
    global _child
    try:
        _, status = os.waitpid(_child, 0)
    except OSError:
        report("runtime error: the program's process is gone")
    _child = 0
    if os.WIFSIGNALED(status):
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), os.WTERMSIG(status))
        report("runtime error: killed by signal {}".format(os.WTERMSIG(status)))
    code = os.WEXITSTATUS(status)
    report("the program ended before the tests finished" if code == 0 else "runtime error: exit code {}".format(code))

def exchange(request):
    try:
        if request is not None:
            send(_to_child_w, request)
        data = receive(_to_parent_r)
    except BrokenPipeError:
        data = None
    if data is None:
        child_ended()
    try:
        return marshal.loads(data)
    except Exception:
        report("runtime error: the program's process sent malformed data")

def take(path, mode="r"):
    with open(path, mode) as f:
        data = f.read()
    os.unlink(path)
    return data

# Every harness input is read, and its file removed, before the program runs: it has
# this directory and this uid, and could otherwise rewrite tests.py before the tests
# load, or read what they expect.
tests_source = take("tests.py")
prompt_source = take("prompt.py")
# The failing assert's line comes from linecache, which would look for the file.
import linecache
linecache.cache["tests.py"] = (len(tests_source), None, tests_source.splitlines(True), "tests.py")
if @DIFFERENTIAL@:
    inputs = json.loads(take("inputs.json"))
    expected = pickle.loads(take("expected.pkl", "rb"))
    if len(inputs) != len(expected):
        raise SystemExit("expected.pkl has {} records for {} inputs".format(len(expected), len(inputs)))
os.unlink(sys.argv[0])  # this driver

def describe(reply, what):
    kind = reply[0] if type(reply) is tuple and reply else None
    if kind == "exit":
        return "runtime error: the program called exit({}) {}".format(reply[1], what)
    if kind in ("fatal", "raise"):
        return str(reply[1])
    if kind == "assert":
        return "failed test: " + str(reply[1])
    return "runtime error: the program's process sent {}".format(short(reply))

loaded = exchange(pickle.dumps("load"))
if loaded == ("missing",):
    report("runtime error: the program defines no function @ENTRY@")
if loaded != ("ready",):
    report(describe(loaded, "while loading"))

EXIT_CALLER = "the tests"

# What the candidate returns must be plain data before the tests compare it: an object
# of the program's own class can define __eq__ to be always true and pass every assert
# and every input (the "always-equal" hack). It comes here marshalled, which writes
# only built-in types, and is checked again here: marshal also reads code objects and
# Ellipsis, and the child may send any bytes.
def call(name, args, kwargs, number=None, shown=None):
    try:
        request = pickle.dumps((args, kwargs), 4)
    except Exception as e:
        report("harness error: the arguments cannot be sent to the program: " + error_line(e))
    reply = exchange(request)
    where = "failed test" if number is None else "failed test {}".format(number)
    on = "" if number is None else " on input " + short(shown)
    if type(reply) is tuple and len(reply) == 2 and reply[0] == "ok":
        bad = foreign_type(reply[1])
        if bad is None:
            return reply[1]
        reply = ("foreign", bad.__name__, "an object" if type(reply[1]) is bad else "a " + type(reply[1]).__name__ + " holding an object")
    if type(reply) is tuple and len(reply) == 3 and reply[0] == "foreign":
        report("{}: {} returned {} of type {}{} (only built-in data is compared: a class of the program's own "
               "could make == always true)".format(where, name, reply[2], reply[1], on))
    if type(reply) is tuple and len(reply) == 2 and reply[0] == "raise":
        raise ProgramError(reply[1])
    if type(reply) is tuple and len(reply) == 2 and reply[0] == "assert":
        raise AssertionError(reply[1])
    report(describe(reply, "during check()" if number is None else "on input {}".format(number)))

def candidate(*args, **kwargs):
    return call(ENTRY, args, kwargs)
candidate.__name__ = candidate.__qualname__ = ENTRY

ns = {"__name__": "solution"}
def load_prompt():
    try:
        code = compile(prompt_source, "prompt.py", "exec")
    except SyntaxError:
        return  # a prompt the program completes (a header it gives the body of) runs only in the child
    exec(code, ns)

guarded("while loading the prompt", load_prompt)
ns[ENTRY] = candidate  # tests may call the function by its name (HumanEval/33's sort_third)
guarded("while loading the tests", lambda: exec(compile(tests_source, "tests.py", "exec"), ns))
guarded("during check()", lambda: ns["check"](candidate))
count = 1
if @DIFFERENTIAL@:
    atol = @ATOL@

    def close(got, want, tol):
        if isinstance(want, (list, tuple)):
            return isinstance(got, (list, tuple)) and len(got) == len(want) and all(close(g, w, tol) for g, w in zip(got, want))
        if isinstance(want, bool) or isinstance(got, bool) or not isinstance(want, (int, float)) or not isinstance(got, (int, float)):
            return got == want
        if math.isnan(want) or math.isnan(got):
            return math.isnan(want) and math.isnan(got)
        return abs(got - want) <= tol + 1e-7 * abs(want)

    def matches_digests(got, record):
        try:
            if digest(got) == record[1]:
                return True
            return record[2] is not None and digest(canon(got)) == record[2]
        except Exception:
            return False

    # evalplus's special oracle for HumanEval/32: any zero of the polynomial passes.
    def poly(xs, x):
        return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])

    count = 0
    for i, (args, record) in enumerate(zip(inputs, expected), 1):
        if record is None:
            continue  # an input the reference itself rejects tests nothing
        got = guarded("on input {}".format(i), lambda: call(ENTRY, args, {}, i, args))
        count += 1
        if @ENTRY_REPR@ == "find_zero":
            try:
                residual = abs(poly(*args, got))
            except Exception:
                residual = None
            if residual is None or not residual <= atol:
                report("failed test {}: input {} expected a zero (|poly(x)| <= {:g}) got {}{}".format(
                    i, short(args), atol, short(got), "" if residual is None else " (|poly(x)| = {:.3g})".format(residual)))
            continue
        if record[0] == "digests":
            if not matches_digests(got, record):
                report("failed test {}: input {} expected {} got {}".format(i, short(args), record[3], short(got)))
            continue
        want = record[1]
        if got == want:
            continue
        tol = atol if atol != 0 else (1e-6 if is_floats(want) else 0)
        if tol != 0 and close(got, want, tol):
            continue
        report("failed test {}: input {} expected {} got {}".format(i, short(args), short(want), short(got)))
stop_child()
sys.stdout.flush()
print("\n" + MARK + " passed " + str(count))
)PY";


constexpr const char* kFunctionalDriver = R"PY(
ns = {"__name__": "solution"}
exec("from typing import *\nfrom collections import *\nfrom heapq import *\nfrom math import *\n"
     "from itertools import *\nfrom functools import *\nfrom bisect import *\n"
     "import collections, heapq, math, itertools, functools, bisect, string, re, sys", ns)
# The arguments are read before the program runs (it may read or replace its stdin).
args = [json.loads(line) for line in sys.stdin.read().split("\n") if line.strip()]
guarded("while loading", lambda: run_file("solution.py", ns))
if "Solution" not in ns:
    report("runtime error: the program defines no class Solution")
solution = guarded("in Solution()", lambda: ns["Solution"]())
if not hasattr(solution, @METHOD_REPR@):
    report("runtime error: Solution has no method @METHOD@")
result = guarded("in @METHOD@", lambda: getattr(solution, @METHOD_REPR@)(*args))
sys.stdout.flush()
print("\n" + MARK + " result " + json.dumps(result))
)PY";

}  // namespace

std::string new_run_marker() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("@@disa-{:016x}", rng());
}

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
}

}  // namespace

// Identifiers and the hex marker need no escaping inside Python quotes.
std::string check_function_driver(const std::string& entry_point, bool differential, double atol,
                                  const std::string& marker) {
  std::string text = std::string(kDriverCommon) + kValueHelpers + kCheckDriver + kCheckChild + kCheckParent;
  replace_all(text, "@MARKER@", "'" + marker + "'");
  replace_all(text, "@ENTRY_REPR@", "'" + entry_point + "'");
  replace_all(text, "@ENTRY@", entry_point);
  replace_all(text, "@DIFFERENTIAL@", differential ? "True" : "False");
  replace_all(text, "@ATOL@", fmt::format("{:.17g}", atol));
  return text;
}

std::string reference_driver(const std::string& entry_point, double atol, const std::string& marker) {
  std::string text = std::string(kDriverCommon) + kValueHelpers + kReferenceDriver;
  replace_all(text, "@MARKER@", "'" + marker + "'");
  replace_all(text, "@ENTRY_REPR@", "'" + entry_point + "'");
  replace_all(text, "@ATOL@", fmt::format("{:.17g}", atol));
  return text;
}

std::string functional_driver(const std::string& method, const std::string& marker) {
  std::string text = std::string(kDriverCommon) + kFunctionalDriver;
  replace_all(text, "@MARKER@", "'" + marker + "'");
  replace_all(text, "@METHOD_REPR@", "'" + method + "'");
  replace_all(text, "@METHOD@", method);
  return text;
}

}  // namespace disa::llm::verify
