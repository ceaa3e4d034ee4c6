"""The workbench (工作台): every tile's figure for a department-scoped manager (their own and their
team's, with the funnel) and for a rep — the API the page renders from."""

from bench.registry import get, scenario

WORKBENCH = "/api/v1/workbench/"


@scenario("workbench.department", "workbench, department-scoped manager", user="department", target=(150, 300))
def department(ctx, i):
    return get(WORKBENCH)


@scenario("workbench.self", "workbench, sales rep", user="self", target=(150, 300))
def rep(ctx, i):
    return get(WORKBENCH)
