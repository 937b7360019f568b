"""Small, tested accelerations of the emulator (moto) for the local stack; results are unchanged.

1. DynamoDB Query.

moto's ``Table.query`` walks every item of the table to find one partition (~10 ms per 1,000 items),
so a query that reads 5 items of a 40,000-item table costs ~0.4 s locally and nothing like that in
AWS. For base-table queries this hands moto's own query the items of the one partition instead of the
whole table; for index queries, the items whose index hash key matches (a cheap pre-filter with the
same test moto applies next). moto's filtering, sorting, paging and serialisation run unchanged on
those candidates, so the results are identical (tests/integration/test_accel.py proves it against
unpatched moto).

2. DynamoDB response serialisation: attribute values, and items and keys (maps of them), are copied as
they are instead of being walked against the service model (same output; the same test compares
whole responses with binary-free items of every attribute type).

3. TransactWriteItems: moto backs up every table a transaction names with a deep copy (items and
stream records) before it writes, once per item of the transaction; the copy grows with each write
(~0.15 s a request for a 100-borrower stack, seconds at a few thousand). Here only the items it
names are copied, and on a failure they and the tables' streams are put back as the copies would
have put them (same test, failing transactions of each kind).

4. Sorting a query's or scan's candidates: moto sorts them on every page, comparing its attribute
objects in Python (a shard worker's 1,000 due loans, ten pages a run). The order is a function of the
table's contents and the candidates' order, so it is remembered until the table's next write.

5. DynamoDB update expressions: parsed twice per UpdateItem (request layer, then backend), each time
from the string; the tree is only read (the validator works on its own deep copy), so the last 4,096
are remembered. An expression moto refuses is refused again, the same way. The validator's deep copy
of the tree is made node by node (``copy.deepcopy`` spent a quarter of an update's emulator time on it),
and its three checks that read only the tree, its names and the table's keys run once per tree, names
and table (``_install_validation_memo``).

6. The SDK's side of DynamoDB: botocore serializes each request's attribute values, and parses each
response's, by walking the service model member by member (about 7% of the soak's time here); for
values without binary members both are copies, made directly (same output: the test compares them
with botocore's own on every attribute type).

7. Request signing: botocore signs every request with SigV4 (a canonical request, two SHA-256 and five
HMACs: a sixth of a small request's time here); the emulator reads only the access key and scope of
the Authorization header and never checks the signature. Requests to the emulator (moto's in-process
mock active, or an endpoint on this machine) get every header as botocore makes it, with a signature
of zeros; any other request (AWS itself) and the S3 signer's are signed as ever.

8. DynamoDB results to plain values: moto's ``dynamo_to_dict`` tries five type tests (one a
``hasattr``) on every string of every item it answers; strings, numbers, plain dicts and lists and
non-binary attribute values are converted directly, anything else its own way (same output: the
whole-response comparison above runs with it). Within one query or batch get each item's size is
measured once, not twice.

9. SQS: moto computes every attribute of a queue, three counts walking all its messages, to read one
(the retention period, once per message received; content-based deduplication, once per message
sent): quadratic in a deep queue. Reads that ask for no count compute none.

10. Routing a request to its handler: for every request moto's in-process mock matches the URL
against each service's pattern, looks the backend up, rebuilds its table of URL patterns and matches
those (a tenth of a small request's emulator time). Which handler a URL reaches depends only on the
URL (the tables are built from moto's modules), so it is remembered per URL; the passthrough and
allow-list settings are still asked on every request, in moto's order.

11. The collector: the emulator's tables, queues and streams are millions of objects that live as long
as the stack, and every full collection of the cyclic garbage collector walks them all again (an
eighth of a 6,000-borrower run's time, in pauses that grow with the book). After each full
collection its survivors are frozen (``gc.freeze``): later collections walk only what is newer.
Garbage is still collected; what was alive at a full collection and later becomes unreachable only
through a reference cycle is kept until the stack stops (``release``).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

_lock = threading.RLock()
_installed = False


class _Fallback(Exception):
    pass


def _attribute_value(value: dict) -> dict:
    """What moto's generic JSON serializer makes of a DynamoDB AttributeValue, made directly: members
    in wire form already, strings str()-ed, None members dropped. Binary (B, BS) and anything else
    unknown go the generic way."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if v is None:
            continue
        if k in ("S", "N"):
            out[k] = v if v in ({}, []) else str(v)
        elif k in ("BOOL", "NULL"):
            out[k] = v
        elif k in ("SS", "NS"):
            out[k] = [str(i) for i in v]
        elif k == "M":
            out[k] = {mk: _attribute_value(mv) for mk, mv in v.items()}
        elif k == "L":
            out[k] = [_attribute_value(i) for i in v]
        else:
            raise _Fallback
    return out


def _install_serializer() -> None:
    """moto serialises every attribute value by walking the service model (~0.5 ms an item); for
    DynamoDB attribute values the result is the value itself, so build it directly."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize

    def serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and isinstance(value, dict):
            try:
                if shape.name == "AttributeValue":
                    serialized[self.get_serialized_name(shape, key)] = _attribute_value(value)
                    return
                if (  # an item, a key
                    shape.type_name == "map"
                    and shape.value.name == "AttributeValue"
                    and all(isinstance(v, dict) for v in value.values())
                ):
                    serialized[self.get_serialized_name(shape, key)] = {
                        k: _attribute_value(v) for k, v in value.items()
                    }
                    return
            except _Fallback:
                pass
        original(self, serialized, value, shape, key)

    BaseJSONSerializer._serialize = serialize  # type: ignore[method-assign]
    BaseJSONSerializer._arrears_original_serialize = original  # type: ignore[attr-defined]


def install() -> None:
    global _installed
    if _installed:
        return
    _install_collector()
    _install_serializer()
    _install_client_values()
    _install_local_signing()
    _install_write_hooks()
    from moto.dynamodb.models.table import Table

    original = Table.query

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        conditions = kwargs.get("hash_key_conditions")
        if index_name and conditions:
            range_test = _range_test(self, index_name, args, kwargs)
            group = _index_groups(self, tuple(sorted(a for a, _ in conditions))).get(
                tuple((e.type, e.value) for _, e in sorted(conditions, key=lambda c: c[0])), []
            )
            candidates = [item for item in group if range_test(item)]
        elif not index_name and hash_key is not None and self.range_key_attr is not None:
            partition = self.items.get(hash_key)
            candidates = list(partition.values()) if partition else []
        else:
            return original(self, *args, **kwargs)
        with _lock, _remembered_sizes():
            self.all_items = lambda: iter(candidates)
            try:
                return original(self, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query  # type: ignore[method-assign]
    Table._arrears_original_query = original  # type: ignore[attr-defined]
    _install_sorted_cache()
    _install_update_parse_cache()
    _install_validation_memo()
    _install_to_dict()
    _install_sqs()
    _install_projection()
    _install_dispatch_caches()
    _install_routing()
    _install_json_parse()
    _install_transactions()
    _install_condition_cache()
    _install_size_memo()
    _installed = True


class _Sizes(threading.local):
    memo: dict[int, tuple[Any, int]] | None = None


_sizes = _Sizes()


@contextlib.contextmanager
def _remembered_sizes() -> Iterator[None]:
    """Within one read (a query, a batch get), each item's size is measured once: moto measures every
    result twice (against the response's size limit, then to add it up), and nothing writes meanwhile
    (the read holds the write lock)."""
    if _sizes.memo is not None:
        yield
        return
    _sizes.memo = {}
    try:
        yield
    finally:
        _sizes.memo = None


def _install_size_memo() -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.responses import DynamoHandler

    if hasattr(Item, "_arrears_original_size"):
        return
    original_size = Item.size
    original_batch_get = DynamoHandler.batch_get_item

    def size(self: Any) -> int:
        memo = _sizes.memo
        if memo is None:
            return original_size(self)  # type: ignore[no-any-return]
        hit = memo.get(id(self))
        if hit is None:  # the item is kept with its size: its id cannot be reused during the read
            hit = memo[id(self)] = (self, original_size(self))
        return hit[1]

    def batch_get_item(self: Any) -> Any:
        with _lock, _remembered_sizes():
            return original_batch_get(self)

    Item._arrears_original_size = original_size  # type: ignore[attr-defined]
    Item.size = size  # type: ignore[method-assign]
    DynamoHandler._arrears_original_batch_get = original_batch_get  # type: ignore[attr-defined]
    DynamoHandler.batch_get_item = batch_get_item  # type: ignore[method-assign]


def _freeze_after_full_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def release() -> None:
    """Everything frozen back to the collector's care: a stopped stack's objects can then be freed
    (the next full collection freezes what is still alive)."""
    gc.unfreeze()


def _install_collector() -> None:
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)


def _install_sorted_cache() -> None:
    from moto.dynamodb.models.table import Table

    if hasattr(Table, "_arrears_original_sorted"):
        return
    original = Table.sorted_items

    def sorted_items(self: Any, hash_key_attrs: list[str], range_key_attrs: list[Any], items: list[Any]) -> Any:
        version = getattr(self, "_arrears_version", 0)
        cache: tuple[int, dict[tuple, list[Any]]] | None = getattr(self, "_arrears_sorted", None)
        if cache is None or cache[0] != version:  # every write path bumps the version (_install_write_hooks)
            cache = (version, {})
            self._arrears_sorted = cache
        key = (tuple(hash_key_attrs), tuple(range_key_attrs), tuple(map(id, items)))  # the cache keeps them alive
        known = cache[1].get(key)
        if known is None:
            if len(cache[1]) >= 64:
                cache[1].clear()
            known = cache[1][key] = list(original(self, hash_key_attrs, range_key_attrs, items))
        items[:] = known  # in place, as moto's own sort
        return items

    Table._arrears_original_sorted = original  # type: ignore[attr-defined]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]


def _client_value(value: Any) -> dict:
    """botocore's wire form of a DynamoDB AttributeValue (and its parse of one: the same for these
    members), made directly; binary members, nulls and anything unknown go botocore's own way."""
    if type(value) is not dict or len(value) != 1:
        raise _Fallback
    ((k, v),) = value.items()
    if v is None:
        raise _Fallback
    if k in ("S", "N", "BOOL", "NULL"):
        return {k: v}
    if k in ("SS", "NS"):
        return {k: list(v)}
    if k == "M":
        return {k: {mk: _client_value(mv) for mk, mv in v.items()}}
    if k == "L":
        return {k: [_client_value(i) for i in v]}
    raise _Fallback


def _install_client_values() -> None:
    from botocore.parsers import BaseJSONParser
    from botocore.serialize import JSONSerializer

    if hasattr(JSONSerializer, "_arrears_original_structure"):
        return
    serialize, parse = JSONSerializer._serialize_type_structure, BaseJSONParser._handle_structure

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: Any) -> None:
        if key is not None and shape.name == "AttributeValue":
            try:
                serialized[key] = _client_value(value)
                return
            except _Fallback:
                pass
        serialize(self, serialized, value, shape, key)

    def parse_structure(self: Any, shape: Any, value: Any) -> Any:
        if shape.name == "AttributeValue":
            try:
                return _client_value(value)
            except _Fallback:
                pass
        return parse(self, shape, value)

    JSONSerializer._arrears_original_structure = serialize  # type: ignore[attr-defined]
    BaseJSONParser._arrears_original_structure = parse  # type: ignore[attr-defined]
    JSONSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]
    BaseJSONParser._handle_structure = parse_structure  # type: ignore[method-assign]


def _to_emulator(request: Any) -> bool:
    from urllib.parse import urlsplit

    from moto.core.models import botocore_stubber

    return bool(botocore_stubber.enabled) or urlsplit(request.url).hostname in ("127.0.0.1", "localhost")


def _install_local_signing() -> None:
    from botocore import auth

    if hasattr(auth.SigV4Auth, "_arrears_original_add_auth"):
        return
    original = auth.SigV4Auth.add_auth

    def add_auth(self: Any, request: Any) -> None:
        if type(self) is not auth.SigV4Auth or self.credentials is None or not _to_emulator(request):
            return original(self, request)  # type: ignore[no-any-return]
        request.context["timestamp"] = auth.get_current_datetime().strftime(auth.SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        self._inject_signature_to_request(request, "0" * 64)

    auth.SigV4Auth._arrears_original_add_auth = original  # type: ignore[attr-defined]
    auth.SigV4Auth.add_auth = add_auth  # type: ignore[method-assign]


def _install_to_dict() -> None:
    from moto.dynamodb import responses
    from moto.dynamodb.models import utilities
    from moto.dynamodb.models.dynamo_type import DynamoType

    if hasattr(utilities, "_arrears_original_to_dict"):
        return
    original = utilities.dynamo_to_dict
    plain = (str, int, float, bool, type(None))

    def to_dict(obj: Any) -> Any:
        kind = type(obj)
        if kind in plain:
            return obj
        if kind is DynamoType and obj.type not in ("B", "BS"):
            return {obj.type: to_dict(obj.value)}
        if kind is dict:
            return {k: to_dict(v) for k, v in obj.items()}
        if kind is list:
            return [to_dict(i) for i in obj]
        return original(obj)  # which comes back here for what it holds

    utilities._arrears_original_to_dict = original  # type: ignore[attr-defined]
    utilities.dynamo_to_dict = responses.dynamo_to_dict = to_dict  # type: ignore[attr-defined]


def _install_update_parse_cache() -> None:
    import functools

    from moto.dynamodb.parsing import expressions

    parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
    if "_arrears_original_make" in parser.__dict__:
        return
    original = parser.__dict__["make"]
    remembered = functools.lru_cache(maxsize=4096)(lambda expression: original.__func__(parser, expression))
    parser._arrears_original_make = original
    parser.make = classmethod(lambda cls, expression: remembered(expression))


#: the validator's checks that read only the expression's tree, its names and the table's key
#: attributes, and change nothing (counts of clauses, overlapping paths, no key attribute updated)
_TREE_CHECKS = ("ActionCountValidator", "OverlappingPathsValidator", "UpdateHashRangeKeyValidator")


def _install_validation_memo() -> None:
    """moto's validator copies a remembered tree first: ``_copy_tree`` makes that copy. It then makes
    ten passes over the copy; three of them read only the tree, its names and the table's key
    attributes (two thirds of the validation's time for a five-action expression). Once they passed
    for a remembered tree with those names on that table, they pass again: they are skipped. Any other
    tree, names or table runs them; so does a tree that failed any pass."""
    from moto.dynamodb.parsing import validators

    base: Any = validators.Validator
    if hasattr(base, "_arrears_original_init"):
        return
    validators._arrears_original_deepcopy = validators.deepcopy  # type: ignore[attr-defined]
    validators.deepcopy = _copy_tree  # type: ignore[assignment]
    original_init, original_validate = base.__init__, base.validate
    passed: dict[tuple, Any] = {}

    def init(
        self: Any,
        expression: Any,
        expression_attribute_names: Any,
        expression_attribute_values: Any,
        item: Any,
        table: Any,
    ) -> None:
        original_init(self, expression, expression_attribute_names, expression_attribute_values, item, table)
        names = expression_attribute_names
        try:
            self._arrears_key = (id(expression), tuple(sorted((names or {}).items())), tuple(table.table_key_attrs))
            hash(self._arrears_key)
        except TypeError:  # names that are not plain strings: every pass runs
            self._arrears_key = None
        self._arrears_source = expression

    def validate(self: Any) -> Any:
        key = self._arrears_key
        known = key is not None and key in passed
        n = self.node_to_validate
        for processor in self.processors:
            if known and type(processor).__name__ in _TREE_CHECKS:
                continue
            n = processor.traverse(n)
        if key is not None and not known:
            if len(passed) >= 4096:
                passed.clear()
            passed[key] = self._arrears_source  # kept: its id is not reused while remembered
        return n

    base._arrears_original_init, base._arrears_original_validate = original_init, original_validate
    base.__init__, base.validate = init, validate


_PLAIN = (str, int, float, bool, type(None))


def _copy_tree(x: Any, memo: Any = None) -> Any:
    """The validator's deep copy of a remembered update expression's tree (it replaces names and
    values in its copy), made node by node: each node's ``type``, its children (nodes, or plain values)
    and its ``parent`` (the copy of its parent). The same copy as ``copy.deepcopy`` for any tree of that
    shape; anything else (another attribute, a shared node, a parent outside the tree, a value that is
    not plain) is left to ``copy.deepcopy``."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    if memo is not None or not isinstance(x, Node) or x.parent is not None:
        return copy.deepcopy(x, memo)
    copies: dict[int, Any] = {}

    def node(n: Any, parent: Any) -> Any:
        if id(n) in copies or n.__dict__.keys() != {"type", "children", "parent"} or type(n.type) is not str:
            raise _Fallback
        if n.parent is not (None if parent is None else parent[0]):
            raise _Fallback
        new = object.__new__(type(n))
        copies[id(n)] = new
        children = n.children
        if children is not None:
            if type(children) is not list:
                raise _Fallback
            kids = []
            for c in children:
                if isinstance(c, Node):
                    kids.append(node(c, (n, new)))
                elif type(c) in _PLAIN:
                    kids.append(c)
                else:
                    raise _Fallback
            children = kids
        new.__dict__.update(type=n.type, children=children, parent=None if parent is None else parent[1])
        return new

    try:
        return node(x, None)
    except _Fallback:
        return copy.deepcopy(x)


class _Uncounted(threading.local):
    on = False


_uncounted = _Uncounted()
_COUNTS = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible")


def _install_sqs() -> None:
    from moto.sqs.models import Queue, SQSBackend

    if hasattr(Queue, "_arrears_original_attributes"):
        return
    original = Queue.__dict__["attributes"]

    class Uncounted:
        """A queue as moto's ``attributes`` reads it, without the three counts."""

        BASE_ATTRIBUTES = [a for a in Queue.BASE_ATTRIBUTES if a not in _COUNTS]
        FIFO_ATTRIBUTES = Queue.FIFO_ATTRIBUTES
        KMS_ATTRIBUTES = Queue.KMS_ATTRIBUTES

        def __init__(self, queue: Any) -> None:
            self._queue = queue

        def __getattr__(self, name: str) -> Any:
            return getattr(self._queue, name)

    def attributes(self: Any) -> Any:
        return original.fget(Uncounted(self) if _uncounted.on else self)

    def uncounted(method: Any) -> Any:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            before, _uncounted.on = _uncounted.on, True
            try:
                return method(self, *args, **kwargs)
            finally:
                _uncounted.on = before

        return run

    get_attributes, send = SQSBackend.get_queue_attributes, SQSBackend.send_message

    def get_queue_attributes(self: Any, queue_name: str, attribute_names: list[str]) -> Any:
        if attribute_names and "All" not in attribute_names and not set(attribute_names) & set(_COUNTS):
            return uncounted(get_attributes)(self, queue_name, attribute_names)
        return get_attributes(self, queue_name, attribute_names)

    Queue._arrears_original_attributes = original  # type: ignore[attr-defined]
    SQSBackend._arrears_original_sqs = (get_attributes, send)  # type: ignore[attr-defined]
    Queue.attributes = property(attributes)  # type: ignore[assignment,method-assign]
    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]
    SQSBackend.send_message = uncounted(send)  # type: ignore[method-assign]  # reads only deduplication


def _uninstall_sqs() -> None:
    from moto.sqs.models import Queue, SQSBackend

    if hasattr(Queue, "_arrears_original_attributes"):
        Queue.attributes = Queue._arrears_original_attributes  # type: ignore[attr-defined,method-assign]
        del Queue._arrears_original_attributes  # type: ignore[attr-defined]
        SQSBackend.get_queue_attributes, SQSBackend.send_message = SQSBackend._arrears_original_sqs  # type: ignore[attr-defined,method-assign]
        del SQSBackend._arrears_original_sqs  # type: ignore[attr-defined]


def _install_condition_cache() -> None:
    """moto lexes and parses a condition expression into a tree again for every item it checks, and
    its request layer parses it once more first, only to learn which names and values it uses (a
    quarter of the emulator's time under the API's load: each request's transaction has three). The
    tree and those lists are a function of the expression, its names and its values alone, and
    evaluating the tree only reads the item, so the last 4,096 are remembered and both parses use
    them. An expression moto refuses is not remembered: it is refused again, the same way."""
    import functools

    import moto.dynamodb.models as models
    from moto.dynamodb import comparisons, responses
    from moto.dynamodb.models import table

    if hasattr(comparisons, "_arrears_original_filter"):
        return
    original = comparisons.get_filter_expression
    original_parser = comparisons.create_condition_expression_parser

    @functools.lru_cache(maxsize=4096)
    def parsed(expr: str | None, names: str, values: str) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
        parser = original_parser(expr, json.loads(names), json.loads(values))
        tree = parser.parse()
        return tree, tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found)

    def key(expr: Any, names: Any, values: Any) -> tuple[Any, str, str] | None:
        try:
            return (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True))
        except (TypeError, ValueError):  # not plain JSON: as moto does it
            return None

    def get_filter_expression(expr: Any, names: Any, values: Any) -> Any:
        k = key(expr, names, values)
        return original(expr, names, values) if k is None else parsed(*k)[0]

    class RememberedParser:
        """What the request layer reads of moto's parser: ``parse()`` and the names and values found."""

        def __init__(self, expr: Any, names: Any, values: Any) -> None:
            self.args = (expr, names, values)
            self.expr_attr_names_found: list[str] = []
            self.expr_attr_values_found: list[str] = []

        def parse(self) -> Any:
            k = key(*self.args)
            if k is None:
                parser = original_parser(*self.args)
                tree = parser.parse()
                names, values = tuple(parser.expr_attr_names_found), tuple(parser.expr_attr_values_found)
            else:
                tree, names, values = parsed(*k)
            self.expr_attr_names_found.extend(names)
            self.expr_attr_values_found.extend(values)
            return tree

    comparisons._arrears_original_filter = original  # type: ignore[attr-defined]
    comparisons._arrears_original_parser = original_parser  # type: ignore[attr-defined]
    for module in (comparisons, models, table):
        module.get_filter_expression = get_filter_expression  # type: ignore[attr-defined]
    for module in (responses, models):
        module.create_condition_expression_parser = RememberedParser  # type: ignore[assignment,attr-defined]


def _install_json_parse() -> None:
    """moto parses each DynamoDB request by walking the service model over the JSON body (a tenth of
    an import's CPU); for the JSON protocol that yields the JSON itself, except for binary values
    (base64 on the wire): a body with a binary attribute takes moto's parser."""
    from moto.dynamodb.responses import DynamoHandler

    if hasattr(DynamoHandler, "_arrears_original_parse"):
        return
    original = DynamoHandler.parse_parameters

    def parse_parameters(self: Any, request: Any) -> None:
        raw = request.data
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        if not text or _BINARY.search(text):
            return original(self, request)
        self.params = json.loads(text)
        return None

    DynamoHandler._arrears_original_parse = original  # type: ignore[attr-defined]
    DynamoHandler.parse_parameters = parse_parameters  # type: ignore[method-assign]


_BINARY = re.compile(r'"BS?"\s*:')


def _install_dispatch_caches() -> None:
    """Every request makes moto list its response class's methods (inspect.getmembers) and convert
    the action's name to snake case, and its server list moto's package folder: pure functions of their
    argument (the installed package does not change while it runs), so remembered."""
    import functools

    from moto.core import responses

    if not hasattr(responses, "_arrears_original_names"):
        responses._arrears_original_names = (  # type: ignore[attr-defined]
            responses.method_names_from_class,
            responses.camelcase_to_underscores,
        )
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)
        responses.camelcase_to_underscores = functools.cache(responses.camelcase_to_underscores)
        from moto import backends  # the server lists moto's package folder (a stat per entry) per request

        backends._arrears_original_modules = backends.list_of_moto_modules  # type: ignore[attr-defined]
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules
        from moto.sqs import models as sqs_models  # converts every queue attribute on every receive

        sqs_models.camelcase_to_underscores = responses.camelcase_to_underscores


_ROUTES_KEPT = 4096  # distinct URLs remembered (S3 keys make them many): forgotten all at once past it


def _routes(clean_url: str) -> tuple[tuple[str, Any], ...]:
    """Each service whose pattern matches the URL, in moto's order, with the handler its backend's URL
    table gives that URL (None: none). moto's own steps, without the calls."""
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.base_backend import BackendDict

    found = []
    for service, pattern in backend_index.backend_url_patterns:
        if not pattern.match(clean_url):
            continue
        backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
        if isinstance(backend_dict, BackendDict):
            regions = backend_dict[DEFAULT_ACCOUNT_ID]
            backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
        else:
            backend = backend_dict["global"]
        handler = next((h for url, h in backend.urls.items() if re.compile(url).match(clean_url)), None)
        found.append((service, handler))
        if handler is not None:
            break
    return tuple(found)


def _install_routing() -> None:
    from moto.core import botocore_stubber as stub

    if hasattr(stub.BotocoreStubber, "_arrears_original_process"):
        return
    original = stub.BotocoreStubber.process_request
    remembered: dict[str, tuple[tuple[str, Any], ...]] = {}

    def process_request(self: Any, request: Any) -> Any:
        from moto.core.exceptions import HTTPException, ServiceNotWhitelisted
        from moto.moto_api import recorder

        parsed_url, _ = stub.get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if stub.passthrough_url(clean_url):
            return None
        routes = remembered.get(clean_url)
        if routes is None:
            routes = _routes(clean_url)
            if len(remembered) >= _ROUTES_KEPT:
                remembered.clear()
            remembered[clean_url] = routes
        for service, handler in routes:
            if stub.passthrough_service(service):
                return None
            if not stub.service_whitelisted(service):
                raise ServiceNotWhitelisted(service)
            if handler is None:
                continue
            normalized_request = stub.normalize_request(request)
            try:
                recorder._record_request(normalized_request)
                status, headers, body = handler(
                    normalized_request, normalized_request.raw_url, normalized_request.headers
                )
            except HTTPException as e:
                status, headers, body = e.code, e.get_headers(), e.get_body()
            return status, headers, body
        if re.compile(r"https?://.+\.amazonaws.com/.*").match(clean_url):
            return 404, {}, "Not yet implemented"
        return None

    stub.BotocoreStubber._arrears_original_process = original  # type: ignore[attr-defined]
    stub.BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def _install_projection() -> None:
    """moto projects an item onto an index's INCLUDE attributes by converting the whole item to plain
    JSON once per projected attribute and back (quadratic in the attributes, with a size check per
    insert): a top-level projection is the same attributes, copied."""
    from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict

    original = Item.project

    def projected(item: Any, names: list[str], values: Any) -> Any:
        result: Any = Item.__new__(Item)
        result.hash_key, result.range_key = item.hash_key, item.range_key
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(attrs)
        for name in names:
            if name in item.attrs and name not in attrs:
                dict.__setitem__(attrs, name, values(item.attrs[name]))
        result.attrs = attrs
        return result

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        if not all(len(path) == 1 for path in projection_expressions):
            return original(self, projection_expressions)
        return projected(self, [name for (name,) in projection_expressions], copy.deepcopy)

    Item.project = project  # type: ignore[method-assign]
    Item._arrears_original_project = original  # type: ignore[attr-defined]

    from moto.dynamodb.models.table import SecondaryIndex

    original_index = SecondaryIndex.project

    def index_project(self: Any, item: Any) -> Any:
        """An index's projection of a query's or scan's result: moto hands it a deep copy made for that
        result alone, so the projected item takes that copy's values instead of copying them again."""
        kind = (self.projection or {}).get("ProjectionType")
        if kind not in ("KEYS_ONLY", "INCLUDE"):
            return original_index(self, item)
        names = self.table_key_attrs + [key["AttributeName"] for key in self.schema]
        if kind == "INCLUDE":
            names += self.projection.get("NonKeyAttributes", [])
        return projected(item, names, lambda value: value)

    SecondaryIndex.project = index_project  # type: ignore[method-assign]
    SecondaryIndex._arrears_original_project = original_index  # type: ignore[attr-defined]

    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    original_init = Item.__init__

    def init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        """moto checks the 400 KB limit by re-measuring the whole item at every attribute it sets
        (quadratic); sizes only grow, so one check of the whole item raises exactly when it would."""
        self.hash_key, self.range_key = hash_key, range_key
        built = LimitedSizeDict.__new__(LimitedSizeDict)
        dict.__init__(built)
        for key, value in attrs.items():
            dict.__setitem__(built, key, DynamoType(value))
        if sum(bytesize(k) + v.size() for k, v in built.items()) > 405000:
            raise ItemSizeTooLarge
        self.attrs = built

    Item.__init__ = init  # type: ignore[method-assign]
    Item._arrears_original_init = original_init  # type: ignore[attr-defined]


class _TableCopies(threading.local):
    skip = False


_table_copies = _TableCopies()


class _CopyModule:
    """moto.dynamodb.models' ``copy``: its deep copy of a whole table is skipped inside a transaction
    (the transaction keeps its own undo log); every other copy is the copy module's."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(x: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if _table_copies.skip and isinstance(x, Table):
            return x  # restoring it is then a no-op; the undo log below restores what changed
        return copy.deepcopy(x, memo)


def _install_transactions() -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend

    if hasattr(DynamoDBBackend, "_arrears_original_transact"):
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:  # every write takes it: nothing interleaves with a transaction (see _install_write_hooks)
            undo = _undo_log(self, transact_items)
            _table_copies.skip = True
            try:
                return original(self, transact_items)  # type: ignore[no-any-return]
            except BaseException:
                _roll_back(*undo)
                raise
            finally:
                _table_copies.skip = False

    DynamoDBBackend._arrears_original_transact = original  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models._arrears_original_copy = models.copy  # type: ignore[attr-defined]
    models.copy = _CopyModule()  # type: ignore[assignment]


def _undo_log(backend: Any, transact_items: list[dict[str, Any]]) -> tuple[list[tuple], dict[int, tuple]]:
    """Each item a transaction names as it is now (a copy, or None), whether its partition existed,
    and the length of each named table's stream."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    entries: list[tuple] = []
    streams: dict[int, tuple] = {}
    for named in transact_items:
        try:
            _, op = next(iter(named.items()))
            table = backend.tables[op["TableName"]]
            key = op["Item"] if "Item" in op else op["Key"]
            h = DynamoType(key[table.hash_key_attr])
            r = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except Exception:  # noqa: S112 - moto refuses this item before writing anything for it
            continue
        if r is not None:
            partition = table.items.get(h)  # .get: the partition dict is a defaultdict
            entries.append((table, h, r, partition is not None, copy.deepcopy(partition.get(r) if partition else None)))
        else:
            entries.append((table, h, None, True, copy.deepcopy(table.items.get(h))))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table, len(table.stream_shard.items)))
    return entries, streams


def _roll_back(entries: list[tuple], streams: dict[int, tuple]) -> None:
    """Put each named item back as it was (last named first: a key named twice gets its first state)
    and drop the stream records written since."""
    for table, h, r, existed, old in reversed(entries):
        if r is None:
            if old is None:
                table.items.pop(h, None)
            else:
                table.items[h] = old
        elif old is not None:
            table.items[h][r] = old
        elif h in table.items:
            table.items[h].pop(r, None)
            if not existed and not table.items[h]:
                del table.items[h]
        _bump(table)
    for table, length in streams.values():
        shard = table.stream_shard
        if shard is not None and len(shard.items) >= length:
            del shard.items[length:]


def _bump(table: Any) -> None:
    table._arrears_version = getattr(table, "_arrears_version", 0) + 1


def _index_groups(table: Any, attrs: tuple[str, ...]) -> dict[tuple, list[Any]]:
    """Items grouped by the values of ``attrs`` (an index's hash key), rebuilt after any write to the
    table (every write path bumps the table's version: put, delete, update, transactions)."""
    version = getattr(table, "_arrears_version", 0)
    cache: tuple[int, dict[tuple[str, ...], dict[tuple, list[Any]]]] | None = getattr(table, "_arrears_groups", None)
    if cache is None or cache[0] != version:
        cache = (version, {})
        table._arrears_groups = cache
    if attrs not in cache[1]:
        groups: dict[tuple, list[Any]] = {}
        for item in _unsorted_items(table):
            values = [item.attrs.get(a) for a in attrs]
            if all(v is not None for v in values):
                groups.setdefault(tuple((v.type, v.value) for v in values), []).append(item)
        cache[1][attrs] = groups
    return cache[1][attrs]


_hooks_installed = False


def _install_write_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    def on_table(name: str) -> Any:
        original = getattr(Table, name)

        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _lock:  # a transaction's rollback never races another write
                try:
                    return original(self, *args, **kwargs)
                finally:
                    _bump(self)

        setattr(Table, name, hooked)

    def on_backend(name: str) -> None:
        original = getattr(DynamoDBBackend, name)

        def hooked(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(self, *args, **kwargs)
            finally:
                for table in self.tables.values():
                    _bump(table)  # cheap: a counter; the next index query regroups that table

        setattr(DynamoDBBackend, name, hooked)

    def on_update_item() -> None:
        original = DynamoDBBackend.update_item

        def hooked(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
            with _lock:
                try:
                    return original(self, table_name, *args, **kwargs)
                finally:
                    if table_name in self.tables:
                        _bump(self.tables[table_name])  # only the table it changed (an item, in place)

        DynamoDBBackend.update_item = hooked  # type: ignore[method-assign]

    for name in ("put_item", "delete_item"):
        on_table(name)
    on_update_item()
    on_backend("transact_write_items")  # may touch several tables


def _unsorted_items(table: Any) -> list[Any]:
    """moto's all_items() sorts the whole table on every call; the query sorts its results itself."""
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _range_test(table: Any, index_name: str, args: tuple, kwargs: dict) -> Any:
    """The same range-key comparison moto applies after sorting, applied before it (single range key)."""
    comparison = args[1] if len(args) > 1 else kwargs.get("range_comparison")
    objs = args[2] if len(args) > 2 else kwargs.get("range_objs")
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"] if index else []
    if not comparison or len(ranges) != 1 or len(kwargs.get("range_key_conditions") or []) > 1:
        return lambda item: True
    name = ranges[0]
    return lambda item: (v := item.attrs.get(name)) is not None and v.compare(comparison, objs)


def uninstall() -> None:
    global _installed
    from moto.dynamodb.models.table import Table

    if _freeze_after_full_collection in gc.callbacks:
        gc.callbacks.remove(_freeze_after_full_collection)
        gc.unfreeze()
    if _installed:
        from moto.core import responses
        from moto.core.serialize import BaseJSONSerializer
        from moto.dynamodb.models.dynamo_type import Item

        Table.query = Table._arrears_original_query  # type: ignore[method-assign,attr-defined]
        Table.sorted_items = Table._arrears_original_sorted  # type: ignore[method-assign,attr-defined]
        del Table._arrears_original_sorted  # type: ignore[attr-defined]
        _uninstall_sqs()
        from moto.dynamodb import responses as ddb_responses
        from moto.dynamodb.models import utilities

        utilities.dynamo_to_dict = ddb_responses.dynamo_to_dict = utilities._arrears_original_to_dict  # type: ignore[attr-defined]
        del utilities._arrears_original_to_dict  # type: ignore[attr-defined]
        from botocore import auth

        auth.SigV4Auth.add_auth = auth.SigV4Auth._arrears_original_add_auth  # type: ignore[attr-defined,method-assign]
        del auth.SigV4Auth._arrears_original_add_auth  # type: ignore[attr-defined]
        from botocore.parsers import BaseJSONParser
        from botocore.serialize import JSONSerializer

        JSONSerializer._serialize_type_structure = JSONSerializer._arrears_original_structure  # type: ignore[attr-defined,method-assign]
        BaseJSONParser._handle_structure = BaseJSONParser._arrears_original_structure  # type: ignore[attr-defined,method-assign]
        del JSONSerializer._arrears_original_structure, BaseJSONParser._arrears_original_structure  # type: ignore[attr-defined]
        from moto.dynamodb.parsing import expressions

        parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
        parser.make = parser._arrears_original_make
        del parser._arrears_original_make
        from moto.dynamodb.parsing import validators

        validators.deepcopy = validators._arrears_original_deepcopy  # type: ignore[attr-defined]
        del validators._arrears_original_deepcopy  # type: ignore[attr-defined]
        base: Any = validators.Validator
        base.__init__, base.validate = base._arrears_original_init, base._arrears_original_validate
        del base._arrears_original_init, base._arrears_original_validate
        if hasattr(responses, "_arrears_original_names"):
            responses.method_names_from_class, responses.camelcase_to_underscores = responses._arrears_original_names
            from moto.sqs import models as sqs_models

            sqs_models.camelcase_to_underscores = responses.camelcase_to_underscores
            del responses._arrears_original_names
            from moto import backends

            backends.list_of_moto_modules = backends._arrears_original_modules  # type: ignore[attr-defined]
        from moto.core import botocore_stubber as stub

        stub.BotocoreStubber.process_request = stub.BotocoreStubber._arrears_original_process  # type: ignore[attr-defined,method-assign]
        del stub.BotocoreStubber._arrears_original_process  # type: ignore[attr-defined]
        Item.size = Item._arrears_original_size  # type: ignore[method-assign,attr-defined]
        del Item._arrears_original_size  # type: ignore[attr-defined]
        from moto.dynamodb.responses import DynamoHandler

        DynamoHandler.batch_get_item = DynamoHandler._arrears_original_batch_get  # type: ignore[method-assign,attr-defined]
        del DynamoHandler._arrears_original_batch_get  # type: ignore[attr-defined]
        Item.project = Item._arrears_original_project  # type: ignore[method-assign,attr-defined]
        from moto.dynamodb.models.table import SecondaryIndex

        SecondaryIndex.project = SecondaryIndex._arrears_original_project  # type: ignore[method-assign,attr-defined]
        del SecondaryIndex._arrears_original_project  # type: ignore[attr-defined]
        Item.__init__ = Item._arrears_original_init  # type: ignore[method-assign,attr-defined]
        BaseJSONSerializer._serialize = BaseJSONSerializer._arrears_original_serialize  # type: ignore[attr-defined,method-assign]
        from moto.dynamodb.responses import DynamoHandler

        DynamoHandler.parse_parameters = DynamoHandler._arrears_original_parse  # type: ignore[method-assign,attr-defined]
        del DynamoHandler._arrears_original_parse  # type: ignore[attr-defined]
        from moto.dynamodb import comparisons
        from moto.dynamodb.models import table as table_module

        if hasattr(comparisons, "_arrears_original_filter"):
            for module in (comparisons, table_module):
                module.get_filter_expression = comparisons._arrears_original_filter  # type: ignore[attr-defined]
            import moto.dynamodb.models as models_module

            models_module.get_filter_expression = comparisons._arrears_original_filter  # type: ignore[attr-defined]
            del comparisons._arrears_original_filter  # type: ignore[attr-defined]
            from moto.dynamodb import responses as dynamodb_responses

            for module in (dynamodb_responses, models_module):
                module.create_condition_expression_parser = comparisons._arrears_original_parser  # type: ignore[attr-defined]
            del comparisons._arrears_original_parser  # type: ignore[attr-defined]
        import moto.dynamodb.models as models
        from moto.dynamodb.models import DynamoDBBackend

        DynamoDBBackend.transact_write_items = DynamoDBBackend._arrears_original_transact  # type: ignore[method-assign,attr-defined]
        del DynamoDBBackend._arrears_original_transact  # type: ignore[attr-defined]
        models.copy = models._arrears_original_copy  # type: ignore[attr-defined]
        _installed = False
