"""On PYTHONPATH for the `swiftpipe download` processes of tests/test_hub.py, whose hub goes away mid-test.

huggingface_hub retries a refused connection five times and sleeps 1, 2, 4, 8 and 8 s between the tries
(`http_backoff`; no setting changes it), so every "hub unreachable" case waited 23 s; ModelScope retries through
urllib3's Retry with backoff_factor=1 (0.5, 1, 2, 4 s). Here the same tries are made without the sleeps: what the
libraries and swiftpipe then do, and what the tests assert, is unchanged. Anything this does not find (another
huggingface_hub or urllib3) is left as it is: the tests are slower, never different."""
try:
    from huggingface_hub.utils import _http
except ImportError:
    _http = None
for _function in vars(_http).values() if _http is not None else ():
    _defaults = getattr(_function, "__kwdefaults__", None)
    if callable(_function) and _defaults and "base_wait_time" in _defaults:
        _defaults.update(base_wait_time=0, max_wait_time=0)

try:
    from urllib3.util.retry import Retry
except ImportError:
    Retry = None
if Retry is not None:
    Retry.get_backoff_time = lambda self: 0.0  # what Retry.sleep() would wait between two tries
