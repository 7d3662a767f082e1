"""Click commands of the constructive results: reduce, optimal-set, path, landscape.

Each parses, loads (isolated), calls one library function of this package and renders; exit
codes follow the contract (0 success, 1 ran but did not certify / reach, 2 bad input, 3
internal). docs/constructive.md documents every command.
"""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import InputError

# cli.py imports this module to register the commands; importing cli.py back would be circular
# (and, under `python -m cvxrelu.cli`, would load a second copy of it), so the three shared
# helpers are restated here.


def _emit_json(d: dict) -> None:
    sys.stdout.write(json.dumps(d, allow_nan=False, sort_keys=False) + "\n")


def _json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def _set_debug(ctx, param, value):
    # the running CLI module (cvxrelu.cli, or __main__ under python -m) owns the flag
    for name in ("cvxrelu.cli", "__main__"):
        flag = getattr(sys.modules.get(name), "_DEBUG", None)
        if isinstance(flag, dict):
            flag["on"] = flag.get("on", False) or value
    return value


def _debug_option(f):
    return click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.", callback=_set_debug,
                        expose_value=False, is_eager=True)(f)


_MODEL_OPTIONS = [
    click.option("--beta", type=float, required=True,
                 help="Weight decay beta (> 0) of loss + beta/2 sum_j (||u_j||^2 + alpha_j^2)."),
    click.option("--loss", type=click.Choice(["squared", "logistic"]), default="squared", show_default=True,
                 help="squared: 1/2 sum_i (yhat_i - y_i)^2; logistic: sum_i log(1 + exp(-y_i yhat_i)), "
                      "labels -1/+1."),
    click.option("--hidden-bias", type=click.Choice(["none", "penalized", "free"]), default="none",
                 show_default=True, help="Hidden-layer biases: none, penalized (beta/2 b_j^2) or free."),
    click.option("--output-bias", type=click.Choice(["none", "penalized", "free"]), default="none",
                 show_default=True, help="Output constant: none, penalized (beta/2 c^2) or free."),
]


def _model_options(f):
    for opt in reversed(_MODEL_OPTIONS):
        f = opt(f)
    return f


def _same(a: str, b: str) -> bool:
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _check_output(out: str, inputs: list[str], what: str = "output") -> None:
    """The output must not be one of the inputs, and its directory must exist (before any work)."""
    for p in inputs:
        if p is not None and (_same(out, p) or os.path.abspath(out) == os.path.abspath(p)):
            raise InputError(f"{out}: the {what} would overwrite the input {p}")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise InputError(f"{out}: directory {directory} does not exist")


def _load_net(path: str, data_path: str | None):
    from ..io import check_data_for, load_isolated

    ck = load_isolated(path, "checkpoint")
    data = ck.data
    if data_path is not None:
        data = load_isolated(data_path, "data")
        check_data_for(ck, data, data_path)
    if data is None:
        raise InputError(f"{path}: no /data in the checkpoint; pass --data DATA")
    return ck, data


def _load_data(path: str, model):
    from ..io import load_isolated

    data = load_isolated(path, "data")
    msg = model.loss_fn.check_labels(data.y)
    if msg:
        raise InputError(f"{path}: /data/y: {msg}")
    return data


def _neurons(k: int) -> str:
    return f"{k} neuron" + ("" if k == 1 else "s")


def _fmt(x, spec=".10g"):
    return "-" if x is None else format(x, spec)


# ----------------------------------------------------------------------------- reduce


@click.command("reduce")
@click.argument("checkpoint")
@click.option("-o", "--output", "out", required=True, help="Checkpoint to write (the reduced network, with data).")
@click.option("--data", "data_path", help="HDF5 data file overriding the checkpoint's /data.")
@_json_option
@_debug_option
def reduce_cmd(checkpoint, out, data_path, as_json):
    """Scale, merge per cone (Prop. 1) and prune to at most n + 1 neurons (Lemma 1 / Prop. 6)."""
    from ..io import save_checkpoint
    from .reduce import reduce_network

    _check_output(out, [checkpoint, data_path])
    ck, data = _load_net(checkpoint, data_path)
    res = reduce_network(ck.network, data, ck.model)
    save_checkpoint(out, res.network, ck.model, data, attrs={"reduced_from": checkpoint})
    d = res.to_dict()
    d["output"] = out
    if as_json:
        _emit_json(d)
    else:
        click.echo(f"objective {_fmt(d['objective_before'])} with {_neurons(d['neurons_before'])}")
        for s in d["steps"]:
            mark = "" if s["accepted"] else "  (not applied)"
            click.echo(f"  {s['step']:<6} objective {_fmt(s['objective'])}  neurons {s['neurons']:>4}  "
                       f"max |prediction change| {s['prediction_change']:.1e}  {s['note']}{mark}")
        click.echo(f"objective {_fmt(d['objective_after'])} with {_neurons(d['neurons_after'])} "
                   f"(at most n + 1 = {d['max_neurons_guaranteed']}); written to {out}")
    return 0


# ----------------------------------------------------------------------------- optimal-set


@click.command("optimal-set")
@click.argument("data_path", metavar="DATA")
@_model_options
@click.option("--tol", type=click.FloatRange(0, 1, max_open=True), default=1e-6, show_default=True,
              help="Relative gap tolerance for P* and for verifying sampled networks.")
@click.option("--sample", "n_sample", type=click.IntRange(min=1), default=None,
              help="Write this many random optimal networks (needs --width and -o DIR).")
@click.option("--width", type=click.IntRange(min=1), default=None, help="Width of the sampled networks.")
@click.option("-o", "--output", "out_dir", default=None, help="Directory for the sampled networks.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed of the sampled networks (same seed, same networks).")
@_json_option
@_debug_option
def optimal_set_cmd(data_path, beta, loss, hidden_bias, output_bias, tol, n_sample, width, out_dir, seed, as_json):
    """P*, m*, uniqueness and the optimal networks of DATA (Thm. 1, App. D)."""
    from ..certificate import verify
    from ..io import save_checkpoint
    from ..model import Model, objective
    from ..progress import make_progress
    from .optimal_set import optimal_set, sample_networks

    model = Model(beta=beta, loss=loss, hidden_bias=hidden_bias, output_bias=output_bias)
    if (n_sample is None) != (out_dir is None) or (n_sample is not None and width is None):
        raise InputError("--sample K needs --width m and -o DIR (and -o DIR needs --sample K)")
    if out_dir is not None:
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):
            raise InputError(f"{out_dir}: -o must be a directory (it is a file)")
        parent = os.path.dirname(os.path.abspath(out_dir))
        if not os.path.isdir(parent):
            raise InputError(f"{out_dir}: directory {parent} does not exist")
    data = _load_data(data_path, model)
    with make_progress() as progress:
        res = optimal_set(data, model, progress=progress, tol=tol)
    d = res.to_dict()
    if n_sample is not None:
        if res.status != "optimal":
            d["samples"] = {"written": [], "note": "not sampled: the optimal set was not computed"}
        else:
            os.makedirs(out_dir, exist_ok=True)
            written = []
            for k, net in enumerate(sample_networks(res, width, n_sample, model, seed=seed)):
                cert = verify(net, data, model, tol=tol)
                path = os.path.join(out_dir, f"optimal_{k:03d}.h5")
                if _same(path, data_path):
                    raise InputError(f"{path}: the sample would overwrite the input {data_path}")
                if cert.status.value != "optimal":  # never write a network that is not certified
                    written.append({"path": None, "objective": objective(net, data, model),
                                    "verify": cert.status.value})
                    continue
                save_checkpoint(path, net, model, data, attrs={"sampled_by": "cvxrelu optimal-set"})
                written.append({"path": path, "objective": objective(net, data, model), "verify": "optimal"})
            d["samples"] = {"width": width, "written": written}
            if any(w["path"] is None for w in written):
                res.status = "inconclusive"
                d["status"] = "inconclusive"
                d["reason"] = "a sampled network did not verify optimal (not written)"
    if as_json:
        _emit_json(d)
    else:
        _render_optimal_set(d)
    return 0 if d["status"] == "optimal" else 1


def _render_optimal_set(d: dict) -> None:
    click.echo(f"status     {d['status']}  ({d['reason']})")
    if d["P_star"] is None:
        return
    click.echo(f"P*         {_fmt(d['P_star'])}   (certified lower bound {_fmt(d['lower_bound'])})")
    if d["status"] != "optimal":
        return
    click.echo(f"patterns   {d['n_patterns']} enumerated, {d['candidate_blocks']} blocks can be non-zero "
               f"in an optimum (tight dual constraint)")
    click.echo(f"m*         {d['m_star']} ({d['m_star_is']}); the first solution found had "
               f"{d['first_solution_blocks']} non-zero blocks")
    u = d.get("uniqueness", {})
    if d["unique"] is None:
        click.echo(f"unique     undetermined: {u.get('method')}")
    else:
        click.echo(f"unique     {'yes' if d['unique'] else 'no'} (largest coordinate spread over the optimal "
                   f"set {u.get('max_spread', 0):.2e}, tolerance {u.get('tolerance', 0):.1e})")
    un = d.get("unique_network")
    word = {True: "yes", False: "no", None: "not decided"}[un]
    click.echo(f"networks   unique up to splitting: {word} ({d.get('distinct_networks_found')} distinct among "
               f"{d.get('optima_compared')} optimal W found; a neuron on a cell boundary may sit in either "
               f"adjacent block without changing the network)")
    click.echo("blocks of a sparsest optimal W:")
    for b in d["blocks"]:
        rng = ""
        if "w_min" in b:
            rng = "  range " + ", ".join(f"[{lo:.6g}, {hi:.6g}]" for lo, hi in zip(b["w_min"], b["w_max"]))
        click.echo(f"  {'w' if b['sign'] > 0 else 'v'} active on {b['pattern']}: "
                   f"[{', '.join(f'{x:.6g}' for x in b['w'])}]{rng}")
    click.echo(d["optimal_networks"])
    if "samples" in d:
        for w in d["samples"]["written"]:
            click.echo(f"  wrote {w['path']}  objective {_fmt(w['objective'])}  verify {w['verify']}")


# ----------------------------------------------------------------------------- landscape


@click.command("landscape")
@click.argument("data_path", metavar="DATA")
@_model_options
@click.option("--width", type=click.IntRange(min=1), default=None, help="Width m of the networks considered.")
@_json_option
@_debug_option
def landscape_cmd(data_path, beta, loss, hidden_bias, output_bias, width, as_json):
    """m*, the width thresholds and what the papers guarantee for this n, d and m."""
    from ..model import Model
    from ..progress import make_progress
    from .landscape import landscape

    model = Model(beta=beta, loss=loss, hidden_bias=hidden_bias, output_bias=output_bias)
    data = _load_data(data_path, model)
    with make_progress() as progress:
        d = landscape(data, model, width=width, progress=progress)
    from ..records import jsonable as _jsonable

    d = _jsonable(d)
    if as_json:
        _emit_json(d)
    else:
        click.echo(f"n = {d['n_samples']}, d = {d['n_features']}, width m = {d['width'] or '(not given)'}")
        click.echo(f"m* = {d['m_star_used']} ({d['m_star_is']})   P* = {_fmt(d['P_star'])}")
        t = d["thresholds"]
        click.echo(f"thresholds: no spurious valleys m >= {t['no_spurious_valleys']}, convex in realizations "
                   f"m >= {t['convex_in_realizations']}")
        for s in d["statements"]:
            h = {True: "condition holds", False: "condition does not hold", None: "no width given"}[
                s["condition_holds"]]
            click.echo(f"- {s['source']} [{s['scope']}; {h}] if {s['condition']}: {s['statement']}. "
                       f"Objective: {s['objective']}.")
    return 0 if d["status"] == "optimal" else 1


# ----------------------------------------------------------------------------- path


def _certified_solution(data, model):
    """(network, note): ``solve``'s network when verify certifies it, else (None, why)."""
    from ..certificate import bound_cost, verify
    from ..errors import TooLargeError
    from ..solve import EXACT_PRICING_SECONDS, solve

    cost = bound_cost(data.X, model)
    if cost["refusal"] is not None or cost["seconds"] > EXACT_PRICING_SECONDS:
        return None, "no certified optimal network: exact patterns do not fit"
    try:
        res = solve(data, model)
    except TooLargeError as exc:
        return None, f"no certified optimal network: {exc}"
    if res.patterns != "exact":
        return None, "no certified optimal network (sampled patterns)"
    if verify(res.network, data, model).status.value != "optimal":
        return None, "solve's network did not verify optimal"
    return res.network, f"the last stage uses solve's certified network ({res.network.n_neurons} neurons)"


@click.command("path")
@click.argument("checkpoint")
@click.option("-o", "--output", "out", required=True, help="HDF5 file for the path (docs/constructive.md).")
@click.option("--data", "data_path", help="HDF5 data file overriding the checkpoint's /data.")
@click.option("--plot", "plot_path", default=None, help="Draw the objective profile to this PNG (needs matplotlib).")
@_json_option
@_debug_option
def path_cmd(checkpoint, out, data_path, plot_path, as_json):
    """A path of non-increasing objective from CHECKPOINT to a minimal network and, when the width
    allows it (Prop. 7), on to a global minimum."""
    from ..model import objective
    from .optimal_set import optimal_set
    from .path import build_path, save_path

    _check_output(out, [checkpoint, data_path])
    if plot_path is not None:
        _check_output(plot_path, [checkpoint, data_path, out], "plot")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise InputError("--plot needs matplotlib: pip install 'cvxrelu[plot]' (or matplotlib)") from None
    ck, data = _load_net(checkpoint, data_path)
    opt = optimal_set(data, ck.model)
    star = opt.sparsest_network(ck.model) if opt.status == "optimal" else None
    m_star, note = (opt.m_star if star is not None else None), opt.reason
    if star is None:
        # no optimal set (e.g. a free hidden bias): any certified optimal network will do for
        # Prop. 7's last stage, only with more neurons than m* perhaps
        star, why = _certified_solution(data, ck.model)
        note = f"{note}; {why}"
    res = build_path(ck.network, data, ck.model, star, m_star, star_note=note)
    save_path(out, res, ck.model, data)
    d = res.to_dict()
    d["output"] = out
    if star is not None:
        d["optimal_network"] = {"neurons": int(star.n_neurons), "objective": objective(star, data, ck.model),
                                "m_star_is": "exact" if opt.m_star_proven else "upper bound"}
    if plot_path is not None:
        from .path import plot_path as draw

        draw(res, plot_path)
        d["plot"] = plot_path
    if as_json:
        _emit_json(d)
    else:
        click.echo(f"{len(d['objectives'])} networks of width {d['width']} written to {out}")
        last = None
        for st, obj in zip(d["stages"], d["objectives"]):
            if st != last:
                click.echo(f"  {st:<7} objective {_fmt(obj)}")
                last = st
        click.echo(f"  end     objective {_fmt(d['objectives'][-1])}")
        click.echo(f"reaches {d['reaches']}: {d['reason']}")
    return 0 if d["reaches"] == "global" else 1
