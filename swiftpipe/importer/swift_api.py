"""Python files that drive ms-swift through its API (2.x `sft_main(SftArguments(...))`, `merge_lora_main`,
`app_ui_main`; 3.x/4.x `TrainArguments`/`SftArguments`, `*_main`), read with `ast` and never executed: the keyword
literals of each arguments object, the module's own constants, `os.environ[...]` assignments, and 2.x's
`output['best_model_checkpoint']` hand-off."""
from __future__ import annotations

import ast
import posixpath
from collections.abc import Iterator

from swiftpipe.importer.calls import Call, Code, Flag, Imported, ImportProblem, Item

# entry point -> swift subcommand (2.x names are translated later, as the shell's are)
MAINS = {
    "sft_main": "sft", "pt_main": "pt", "pretrain_main": "pt", "rlhf_main": "rlhf", "dpo_main": "dpo",
    "orpo_main": "orpo", "simpo_main": "simpo", "infer_main": "infer", "export_main": "export",
    "merge_lora_main": "merge-lora", "merge_lora": "merge-lora", "app_ui_main": "app-ui", "app_main": "app",
    "deploy_main": "deploy", "eval_main": "eval", "sample_main": "sample", "webui_main": "web-ui",
    "web_ui_main": "web-ui",
}
_OUTPUT_KEYS = ("best_model_checkpoint", "last_model_checkpoint")
_ENUMS = {"ModelType", "DatasetName", "TemplateType"}  # 2.x registries: ModelType.qwen_14b_chat is 'qwen-14b-chat'


def uses_swift(tree: ast.Module) -> bool:
    """Whether the module imports ms-swift (`swift`, `swift.llm`, ...)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "swift":
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "swift" for a in node.names):
            return True
    return False


class _Unknown(Exception):
    pass


def read(path: str, text: str, imported: Imported) -> None:
    """Add a Call for every ms-swift entry point the module calls, in source order."""
    _Module(path, imported).run(ast.parse(text))


class _Module:
    def __init__(self, path: str, imported: Imported) -> None:
        self.path = path
        self.imported = imported
        self.names: dict[str, object] = {}
        self.env: dict[str, object] = {}

    def run(self, tree: ast.Module) -> None:
        for statement in _statements(tree.body):
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                self.assign(target, node.value)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, node.value)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            self.call(node.value)

    def assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Subscript) and ast.unparse(target.value) == "os.environ":
            key = self._literal(target.slice)
            if isinstance(key, str):
                self.env[key] = self._value(value, where=self._where(value), name=key)
            return
        if not isinstance(target, ast.Name):
            return
        if isinstance(value, ast.Call) and _name(value.func) in MAINS:
            self.names[target.id] = ("output", self.call(value))
            return
        try:
            self.names[target.id] = self._evaluate(value)
        except _Unknown:
            self.names.pop(target.id, None)

    def call(self, node: ast.Call) -> Call | None:
        function = _name(node.func)
        if function == "os.environ.setdefault" or function == "os.environ.update":
            return None
        if function not in MAINS:
            return None
        if not node.args:
            raise ImportProblem(f"{function}() without arguments", where=self._where(node))
        argument = node.args[0]
        bound = self.names.get(argument.id) if isinstance(argument, ast.Name) else None
        keywords: list[tuple[str, object, int]]
        if isinstance(bound, tuple) and bound[0] == "arguments":
            keywords = bound[1]
        elif isinstance(argument, ast.Call):
            keywords = self._arguments(argument)
        elif isinstance(argument, (ast.List, ast.Tuple)):
            keywords = self._argv(argument)
        else:
            raise ImportProblem(f"{function}({ast.unparse(argument)}): the arguments are built where swiftpipe "
                                "cannot read them (give an arguments object or a list of flags)",
                                where=self._where(node))
        where = self._where(node)
        call = Call(MAINS[function], [], [(k, _item(k, v, where)) for k, v in self.env.items()], self.path,
                    node.lineno)
        for name, value, line in keywords:
            if value is None:
                self.imported.note(f"{self.path}:{line}", "dropped", f"{name}=None (ms-swift's default)", call=call)
                continue
            values = [_item(name, v, f"{self.path}:{line}") for v in (value if isinstance(value, list) else [value])]
            call.flags.append(Flag(name, values, line, many=isinstance(value, list)))
        self.imported.calls.append(call)
        return call

    def _arguments(self, node: ast.Call) -> list[tuple[str, object, int]]:
        if not _name(node.func).endswith("Arguments"):
            raise ImportProblem(f"{ast.unparse(node.func)}(...) is not an ms-swift arguments class",
                                where=self._where(node))
        out = []
        for keyword in node.keywords:
            if keyword.arg is None:
                raise ImportProblem("**kwargs: swiftpipe reads keyword literals only", where=self._where(keyword))
            out.append((keyword.arg, self._value(keyword.value, where=self._where(keyword), name=keyword.arg),
                        keyword.value.lineno))
        return out

    def _argv(self, node: ast.List | ast.Tuple) -> list[tuple[str, object, int]]:
        out: list[tuple[str, list[object], int]] = []
        for element in node.elts:
            word = self._value(element, where=self._where(element), name="argv")
            if isinstance(word, str) and word.startswith("--"):
                out.append((word[2:], [], element.lineno))
            elif out:
                out[-1][1].append(word)
        return [(n, v[0] if len(v) == 1 else (v or True), line) for n, v, line in out]

    def _value(self, node: ast.expr, *, where: str, name: str) -> object:
        try:
            return self._evaluate(node)
        except _Unknown:
            code = ast.unparse(node)
            self.imported.note(where, "warning", f"{name}={code} is computed by code swiftpipe does not run; it "
                               f"became the recipe parameter {name}")
            return self.imported.param(name, f"<{code}>", where=where, origin=f"{name}={code}")

    def _evaluate(self, node: ast.expr) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self._evaluate(e) for e in node.elts]
        if isinstance(node, ast.Name):
            if node.id in _OUTPUT_KEYS and self.names.get(node.id, "") == "":
                return node.id  # 2.x tutorials: `best_model_checkpoint = ''`, to fill in with the last run's
            if node.id in self.names and not isinstance(self.names[node.id], tuple):
                return self.names[node.id]
            raise _Unknown
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in _ENUMS:
            return node.attr.replace("_", "-")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            bound = self.names.get(node.value.id)
            key = self._literal(node.slice)
            if isinstance(bound, tuple) and bound[0] == "output" and key in _OUTPUT_KEYS:
                return key  # the hand-off finder reads the name as that run's checkpoint
            raise _Unknown
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._evaluate(node.left), self._evaluate(node.right)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            raise _Unknown
        if isinstance(node, ast.JoinedStr):
            return "".join(str(self._evaluate(v.value if isinstance(v, ast.FormattedValue) else v))
                           for v in node.values)
        if isinstance(node, ast.Call) and _name(node.func).endswith("Arguments"):
            return ("arguments", self._arguments(node))
        if isinstance(node, ast.Call) and _name(node.func) == "os.path.join":
            parts = [self._evaluate(a) for a in node.args]
            texts = [p for p in parts if isinstance(p, str)]
            if texts and len(texts) == len(parts):
                return posixpath.join(*texts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            value = self._evaluate(node.operand)
            if isinstance(value, (int, float)):
                return -value
        raise _Unknown

    def _literal(self, node: ast.expr) -> object:
        try:
            return self._evaluate(node)
        except _Unknown:
            return None

    def _where(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', 1)}"


def _item(name: str, value: object, where: str) -> Item:
    """A literal as a flag's (or a variable's) value; one that no recipe value can be (bytes, `...`, a list in a
    list) stops the import here, rather than writing a recipe that fails to render."""
    if isinstance(value, (str, int, float, Code)):
        return value
    raise ImportProblem(f"{name}={value!r}: not a value a flag takes (text, a number, a boolean, or a list of them)",
                        where=where)


def _name(node: ast.expr) -> str:
    return ast.unparse(node).split(".")[-1] if not ast.unparse(node).startswith("os.") else ast.unparse(node)


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements in source order, into `if __name__ == '__main__':`, `def main():` and `with` blocks."""
    for node in body:
        if isinstance(node, (ast.If, ast.With, ast.FunctionDef, ast.Try)):
            yield from _statements(node.body)
            if isinstance(node, ast.If):
                yield from _statements(node.orelse)
        else:
            yield node

