"""The command line: parse, load (isolated), call the library once, render.

Exit codes (docs/cli.md): 0 success / certified optimal, 1 verify not certified,
2 bad usage or bad input (one line on stderr), 3 internal error (one line; --debug for the
traceback). With --json stdout carries exactly one JSON object; diagnostics go to stderr.
BLAS runs on one thread so that results do not depend on the machine's thread count.

Each command is one click function here; command groups defined elsewhere join with
``cli.add_command(...)``. Library modules are imported inside the commands so that
``cvxrelu --help`` stays fast.
"""

from __future__ import annotations

import os

# Deterministic results whatever the machine or the caller's environment: a multithreaded BLAS
# may sum in a different order from run to run, so the CLI pins every BLAS to one thread
# (tests/test_cli_determinism.py runs verify under different thread settings).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import traceback  # noqa: E402

import click  # noqa: E402

from . import __version__  # noqa: E402

#: Exit codes (docs/cli.md, "Exit codes").
EXIT_OK = 0
EXIT_NOT_CERTIFIED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130

_DEBUG = {"on": False}


def _emit_json(d: dict) -> None:
    sys.stdout.write(json.dumps(d, allow_nan=False, sort_keys=False) + "\n")


def _debug_option(f):
    return click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.",
                        callback=lambda ctx, p, v: _DEBUG.update(on=v) or v, expose_value=False,
                        is_eager=True)(f)


def _json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")(f)


def _finite_at_least(low: float, strict: bool):
    """A click callback: the value must be a finite number >= low (> low when strict)."""
    def check(ctx, param, value):
        if value is None:
            return value
        if not (math.isfinite(value) and (value > low if strict else value >= low)):
            rel = ">" if strict else ">="
            raise click.BadParameter(f"must be a finite number {rel} {low:g}, got {value!r}")
        return value

    return check


def _tol_options(f):
    """--tol, --atol and --time-limit: how close is close enough, and how long the bound may run."""
    f = click.option("--time-limit", "time_limit", type=float, default=60.0, show_default=True,
                     callback=_finite_at_least(0.0, True),
                     help="Seconds for the anytime bound on the dual constraint (used when the activation "
                          "patterns are too many to enumerate), the search for a better network and its "
                          "bound, together.")(f)
    f = click.option("--atol", type=float, default=0.0, show_default=True, callback=_finite_at_least(0.0, False),
                     help="Absolute gap tolerance: optimal when the gap is <= max(atol, tol * |objective|).")(f)
    return click.option("--tol", type=click.FloatRange(0, 1, max_open=True), default=1e-6, show_default=True,
                        help="Relative gap tolerance (gap / |objective|).")(f)


def _jobs_options(f):
    f = click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run the exact enumeration on this dask.distributed scheduler "
                          "(pip install 'cvxrelu[dask]'); same results (docs/scale.md).")(f)
    return click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True,
                        help="Worker processes for the exact enumeration (0: all cores); the "
                             "results do not depend on it.")(f)


_GROUP_HELP = """Certify and compute globally optimal two-layer ReLU networks.

\b
Quick start (docs/cli.md has every option and JSON key, README.md a session):
  cvxrelu verify NET.h5              is NET.h5 a global minimum of its training loss?
  cvxrelu solve DATA.h5 --beta 0.1 -o NET.h5
                                     train one that is

\b
Exit codes (every command):
  0    success; verify and solve: certified globally optimal within the tolerance
  1    verify: not certified (suboptimal or inconclusive); solve: not certified (inconclusive,
       the network is still written); other commands: ran but did not reach what was asked
  2    bad usage or bad input: one line on stderr, nothing written
  3    internal error: one line on stderr (--debug shows the traceback)
  130  interrupted (Ctrl-C): nothing half-written
"""


def _check_plot(path: str | None, *others) -> None:
    """--plot FILE.png: matplotlib importable and the path writable, before any work."""
    if path is None:
        return
    from .files import check_output
    from .plots import require_matplotlib

    require_matplotlib(path)
    check_output(path, others[0], option="--plot", others=others[1] if len(others) > 1 else ())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             invoke_without_command=True, help=_GROUP_HELP)
@click.version_option(__version__, prog_name="cvxrelu")
@click.pass_context
def cli(ctx):
    if ctx.invoked_subcommand is None:  # bare `cvxrelu`: the help, exit 0
        click.echo(ctx.get_help())


@cli.command()
@click.argument("checkpoint")
@click.option("--data", "data_path", metavar="DATA",
              help="HDF5 data file (/data/X, /data/y) overriding the checkpoint's /data.  [default: the "
                   "checkpoint's own data]")
@_tol_options
@click.option("--witness", "witness_path", metavar="OUT.h5",
              help="Write the strictly better network here when the verdict is suboptimal (checked "
                   "before any work; never one of the inputs).")
@click.option("--plot", "plot_path", metavar="FILE.png",
              help="Draw the fitted function (1-D data) and/or the dual function on the circle (2-D "
                   "data) with the verdict; needs the plot extra (matplotlib).")
@click.option("--exact", "exact", is_flag=True,
              help="Also compute the global optimum P* by column generation (where one exact pricing "
                   "fits in the time limit, which it then gets again) and report the network's true "
                   "gap L - P* beside its own bound.")
@click.option("--optimal-out", "optimal_path", metavar="OUT.h5",
              help="With --exact: write the optimal network found here (checked before any work; never "
                   "one of the inputs).")
@_jobs_options
@_json_option
@_debug_option
def verify(checkpoint, data_path, tol, atol, time_limit, witness_path, plot_path, exact, optimal_path, jobs,
           scheduler, as_json):
    """Certify that CHECKPOINT is a global minimum of its training objective.

    Exit 0 when certified optimal, 1 when suboptimal (a strictly better network is known) or
    inconclusive; every valid network gets a verdict, whatever its size.
    """
    from .certificate import Status
    from .certificate import verify as run_verify
    from .errors import InputError
    from .files import check_output
    from .io import check_data_for, load_isolated, save_checkpoint, sha256_file
    from .progress import make_progress
    from .report import render_certificate

    if optimal_path is not None and not exact:
        raise InputError("--optimal-out needs --exact (the optimum is computed only with --exact)")
    if witness_path is not None:
        check_output(witness_path, [checkpoint, data_path], option="--witness",
                     others=[("--plot", plot_path), ("--optimal-out", optimal_path)])
    if optimal_path is not None:
        check_output(optimal_path, [checkpoint, data_path], option="--optimal-out", others=[("--plot", plot_path)])
    _check_plot(plot_path, [checkpoint, data_path])
    ck = load_isolated(checkpoint, "checkpoint")
    data = ck.data
    inputs = {"checkpoint": ck.sha256}
    if data_path is not None:
        data = load_isolated(data_path, "data")
        check_data_for(ck, data, data_path)
        inputs["data"] = sha256_file(data_path)
    if data is None:
        raise InputError(f"{checkpoint}: no /data in the checkpoint; pass --data DATA")
    if plot_path is not None:
        from .plots import check_plottable

        check_plottable(plot_path, ck.model, data.X.shape[1])
    with make_progress(command="cvxrelu verify") as progress:
        progress.stage("certifying (objective, dual bound, witness)")
        cert = run_verify(ck.network, data, ck.model, tol=tol, atol=atol, time_limit=time_limit, progress=progress,
                         jobs=jobs, scheduler=scheduler)
        ex = None
        if exact:
            from .exact import exact_optimum, merge_into

            progress.stage("the global optimum (column generation)")
            ex = exact_optimum(ck.network, data, ck.model, time_limit=time_limit, progress=progress)
            cert = merge_into(cert, ex, ck.network, data, ck.model)
    d = cert.to_dict()
    d["inputs"] = inputs
    if ex is not None:
        d["exact"] = ex.to_dict()
        if optimal_path is not None:
            if ex.network is not None:
                save_checkpoint(optimal_path, ex.network, ck.model, data,
                                attrs={"optimum_of": checkpoint, "exact_status": ex.status})
                d["exact"]["output"] = optimal_path
            else:
                click.echo(f"cvxrelu: no optimal network to write to {optimal_path} (exact status {ex.status})",
                           err=True)
    if witness_path is not None:
        if cert.witness is not None:
            save_checkpoint(witness_path, cert.witness, ck.model, data,
                            attrs={"witness_of": checkpoint, "witness_kind": str(d["witness"]["kind"])})
            d["witness"]["path"] = witness_path
        else:
            click.echo(f"cvxrelu: no better network to write to {witness_path} (status {cert.status.value})",
                       err=True)
    if plot_path is not None:
        from .plots import plot_verify

        plot_verify(plot_path, ck.network, data, ck.model, d, cert.witness)
    if as_json:
        _emit_json(d)
    else:
        render_certificate(d)
    return EXIT_OK if cert.status is Status.OPTIMAL else EXIT_NOT_CERTIFIED


@cli.command()
@click.argument("data_path", metavar="DATA")
@click.option("--beta", type=float, required=True,
              help="Weight decay beta (> 0) of the objective loss + beta/2 sum_j (||u_j||^2 + alpha_j^2) "
                   "(docs/conventions.md converts other frameworks' settings).")
@click.option("--loss", type=click.Choice(["squared", "logistic"]), default="squared", show_default=True,
              help="squared: 1/2 sum_i (yhat_i - y_i)^2 (a sum, not a mean); logistic: sum_i log(1 + "
                   "exp(-y_i yhat_i)) with labels -1/+1.")
@click.option("--hidden-bias", type=click.Choice(["none", "penalized", "free"]), default="none", show_default=True,
              help="Hidden-layer biases b_j: none; penalized (beta/2 b_j^2 added to the penalty); free "
                   "(not penalized).")
@click.option("--output-bias", type=click.Choice(["none", "penalized", "free"]), default="none", show_default=True,
              help="Output constant c: none; penalized (beta/2 c^2 added); free (not penalized).")
@click.option("-o", "--output", "out", required=True, metavar="OUT.h5",
              help="Checkpoint to write, with the data (checked before any work; never DATA itself).")
@click.option("--patterns", type=click.IntRange(min=1), default=None,
              help="Sample this many activation patterns (from Gaussian directions) instead of "
                   "enumerating them exactly.  [default: exact when the arrangement fits, else sampled]")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed of the pattern sampling and the search (same seed, same result).")
@click.option("--solver", type=click.Choice(["auto", "ipm", "clarabel", "first-order"]), default="auto", show_default=True,
              help="ipm: structured interior point (squared loss); auto: ipm, Clarabel for the logistic "
                   "loss, first-order when the interior point would not fit in memory.")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Write exactly this many neurons (zero neurons pad; neurons split when fewer are "
                   "non-zero).  [default: the non-zero ones]")
@click.option("--plot", "plot_path", metavar="FILE.png",
              help="Draw the fitted function (1-D data), the dual function (2-D data) and the objective "
                   "and lower bound against time; needs the plot extra (matplotlib).")
@click.option("--search/--no-search", default=True, show_default=True,
              help="With sampled patterns, improve them by gradient warm starts and dual-guided search.")
@click.option("--search-rounds", type=click.IntRange(min=0), default=30, show_default=True,
              help="At most this many rounds of dual-guided pattern search.")
@click.option("--search-seconds", type=click.FloatRange(min=0), default=None,
              help="Start no pattern-search round after this many seconds of search (default: 1.5 times "
                   "the time to the first program, at least 60 s; inf: no limit).")
@click.option("--tol", type=click.FloatRange(0, 1, max_open=True), default=1e-6, show_default=True,
              help="Relative gap tolerance of the certificate of the written network (as verify --tol).")
@click.option("--time-limit", "time_limit", type=float, default=60.0, show_default=True,
              callback=_finite_at_least(0.0, True),
              help="Seconds for that certificate's anytime bound (as verify --time-limit).")
@click.option("--jobs", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes for the pattern search's pricing (0: all cores); the result "
                   "does not depend on it.")
@_json_option
@_debug_option
def solve(data_path, beta, loss, hidden_bias, output_bias, out, patterns, seed, solver, width, plot_path, search,
          search_rounds, search_seconds, tol, time_limit, jobs, as_json):
    """Train a globally optimal network on DATA by convex optimization.

    The written network is certified as verify would: exit 0 with status "optimal" when the
    certificate closes within --tol, else exit 1 with status "inconclusive" (the network is
    written either way).
    """
    from .certificate import Status
    from .files import check_output
    from .io import load_isolated, save_checkpoint
    from .model import Model
    from .progress import make_progress
    from .report import render_solve
    from .solve import solve as run_solve
    from .validation import check_labels

    check_output(out, [data_path], option="-o", others=[("--plot", plot_path)])
    _check_plot(plot_path, [data_path, out])
    model = Model(beta=beta, loss=loss, hidden_bias=hidden_bias, output_bias=output_bias)
    data = load_isolated(data_path, "data")
    check_labels(model, data.y, f"{data_path}: /data/y: ")
    with make_progress(command="cvxrelu solve") as progress:
        progress.stage("solving the convex program")
        res = run_solve(data, model, patterns=patterns, seed=seed, solver=solver, width=width, search=search,
                        search_rounds=search_rounds, search_seconds=search_seconds, tol=tol,
                        time_limit=time_limit, jobs=jobs, progress=progress)
    save_checkpoint(out, res.network, model, data, attrs={"solved_with": f"cvxrelu {__version__}"})
    d = res.to_dict()
    d["output"] = out
    if plot_path is not None:
        from .plots import plot_solve

        plot_solve(plot_path, res.network, data, model, d)
    if as_json:
        _emit_json(d)
    else:
        render_solve(d)
    return EXIT_OK if res.status is Status.OPTIMAL else EXIT_NOT_CERTIFIED


from .constructive.commands import landscape_cmd, optimal_set_cmd, path_cmd, reduce_cmd  # noqa: E402

cli.add_command(reduce_cmd)
cli.add_command(optimal_set_cmd)
cli.add_command(landscape_cmd)
cli.add_command(path_cmd)


from .interop.commands import export_command, import_command  # noqa: E402

cli.add_command(import_command)
cli.add_command(export_command)


def main(argv=None) -> None:
    """Entry point: maps every outcome to the exit codes of docs/cli.md."""
    from .errors import CvxReluError, InputError

    try:
        rv = cli.main(args=argv, prog_name="cvxrelu", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):  # Ctrl-C; outputs are written atomically
        click.echo("cvxrelu: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:  # usage errors
        click.echo(f"cvxrelu: error: {exc.format_message()}".replace("\n", " "), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except InputError as exc:
        click.echo(f"cvxrelu: error: {exc}".replace("\n", " "), err=True)
        sys.exit(EXIT_BAD_INPUT)
    except (CvxReluError, Exception) as exc:  # noqa: BLE001 - the one place errors are translated
        if _DEBUG["on"]:
            traceback.print_exc()
        msg = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"cvxrelu: internal error: {type(exc).__name__}: {msg}", err=True)
        sys.exit(EXIT_INTERNAL)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":
    main()
