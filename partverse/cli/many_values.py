"""Repeatable options that also take several values after one flag (what a shell glob gives).

`partverse eval segmentation --gt seg/1/*.seg` reaches the command as `--gt seg/1/1_1.seg
seg/1/1_2.seg ...`; click reads one value per `--gt` and refuses the rest as extra arguments.
`ManyValuesCommand` rewrites every bare word after a repeatable option's value into one more use
of that option, until the next option. Only for commands without positional arguments: there such
a word can belong to nothing else.
"""
from __future__ import annotations

from typer.core import TyperCommand


def spread_values(args: list[str], repeatable: set[str], takes_value: set[str]) -> list[str]:
    """`args` with `--opt a b c` written as `--opt a --opt b --opt c` for every option name in
    `repeatable`; the value after an option in `takes_value` is left to it (so `--iou -1` stays a
    value), `--opt=a` counts as a use of the option, and nothing after `--` is touched."""
    out: list[str] = []
    current = None  # the repeatable option whose values the bare words are
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            out.extend(args[i:])
            break
        if word.startswith("-") and word != "-":
            name, has_value = word.split("=", 1)[0], "=" in word
            current = name if name in repeatable else None
            out.append(word)
            if name in takes_value and not has_value and i + 1 < len(args):
                out.append(args[i + 1])
                i += 1
        elif current is not None:
            out.extend((current, word))
        else:
            out.append(word)
        i += 1
    return out


class ManyValuesCommand(TyperCommand):
    """A typer command whose repeatable (list) options take one or more values per flag."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        options = [p for p in self.get_params(ctx) if p.param_type_name == "option"]
        if any(p.param_type_name == "argument" for p in self.params):
            raise TypeError(f"{self.name}: ManyValuesCommand is for commands without positional arguments")
        repeatable = {name for p in options if p.multiple for name in p.opts}
        takes_value = {name for p in options if not p.is_flag and not p.count for name in p.opts}
        return super().parse_args(ctx, spread_values(list(args), repeatable, takes_value))
