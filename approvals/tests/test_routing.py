"""Who approves: the chain chosen by amount and department, and each step kind's approvers."""

from decimal import Decimal

import pytest

from approvals import selectors, services
from approvals.models import ApprovalLog, ApprovalTask, Decision, LogAction, RequestStatus, StepKind, StepMode
from approvals.tests.factories import make_chain, make_contract
from contracts.models import ContractStatus
from contracts.services.approval import contract_submit
from staff.tests.factories import DepartmentFactory, RoleFactory, UserFactory


def submit(user, contract):
    contract_submit(user=user, contract=contract)
    return selectors.open_request(doc_type="contract", object_id=contract.pk)


def pending_approvers(request):
    return set(
        ApprovalTask.objects.filter(request=request, decision=Decision.PENDING).values_list(
            "approver__username", flat=True
        )
    )


# --- the default chains: by amount ------------------------------------------------------------


def test_up_to_50000_yuan_the_department_leader_alone_approves(aorg):
    contract = make_contract(aorg.east_rep, "50000.00")
    request = submit(aorg.east_rep, contract)

    assert [step["kind"] for step in request.steps] == [StepKind.LEADER]
    assert pending_approvers(request) == {"east_manager"}

    services.approval_approve(user=aorg.east_manager, request=request)
    request.refresh_from_db()
    contract.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert contract.status == ContractStatus.APPROVED


def test_above_50000_yuan_the_leader_then_the_general_manager_approve(aorg):
    contract = make_contract(aorg.east_rep, "50000.01")
    request = submit(aorg.east_rep, contract)

    assert [step["kind"] for step in request.steps] == [StepKind.LEADER, StepKind.PERMISSION]
    assert pending_approvers(request) == {"east_manager"}

    services.approval_approve(user=aorg.east_manager, request=request, comment="同意")
    request.refresh_from_db()
    assert (request.status, request.current_step) == (RequestStatus.PENDING, 2)
    assert pending_approvers(request) == {"gm"}
    contract.refresh_from_db()
    assert contract.status == ContractStatus.PENDING

    services.approval_approve(user=aorg.gm, request=request)
    contract.refresh_from_db()
    assert contract.status == ContractStatus.APPROVED


def test_the_chain_is_chosen_when_submitted_and_later_edits_do_not_change_it(aorg):
    contract = make_contract(aorg.east_rep, "1000.00")
    request = submit(aorg.east_rep, contract)
    # An admin adds a step to the default small chain meanwhile.
    chain = selectors.approval_chain_for(doc_type="contract", department=aorg.departments["east"], amount=Decimal(1))
    chain.steps.create(order=2, kind=StepKind.USERS)

    services.approval_approve(user=aorg.east_manager, request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED


# --- by department ----------------------------------------------------------------------------


def test_a_department_chain_beats_the_default_and_covers_its_sub_departments(aorg):
    make_chain(departments=[aorg.departments["s1"]], steps=[{"kind": StepKind.USERS, "users": [aorg.north_other]}])

    east = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))  # 华东组 is under 销售一部
    north = submit(aorg.north_rep, make_contract(aorg.north_rep, "1000.00"))  # 销售二部: the default

    assert pending_approvers(east) == {"north_other"}
    assert east.chain.departments.get() == aorg.departments["s1"]
    assert north.chain.name.startswith("合同审批")


def test_the_most_specific_department_wins(aorg):
    make_chain(departments=[aorg.departments["s1"]], steps=[{"kind": StepKind.USERS, "users": [aorg.north_other]}])
    make_chain(
        departments=[aorg.departments["east"]],
        priority=999,  # priority only decides between equally specific chains
        steps=[{"kind": StepKind.USERS, "users": [aorg.s2_rep]}],
    )

    east = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    south = submit(aorg.south_rep, make_contract(aorg.south_rep, "1000.00"))

    assert pending_approvers(east) == {"s2_rep"}
    assert pending_approvers(south) == {"north_other"}


def test_amount_conditions_apply_before_department(aorg):
    # A chain for 华东组 above ¥100,000 only: smaller contracts there use the default chains.
    make_chain(
        departments=[aorg.departments["east"]],
        min_amount=Decimal("100000.00"),
        steps=[{"kind": StepKind.USERS, "users": [aorg.s2_rep]}],
    )
    small = submit(aorg.east_rep, make_contract(aorg.east_rep, "100000.00"))
    large = submit(aorg.east_intern, make_contract(aorg.east_intern, "100000.01"))

    assert [s["kind"] for s in small.steps] == [StepKind.LEADER, StepKind.PERMISSION]
    assert pending_approvers(large) == {"s2_rep"}


def test_priority_decides_between_equally_specific_chains_and_inactive_chains_are_ignored(aorg):
    make_chain(
        departments=[aorg.departments["east"]], priority=20, steps=[{"kind": StepKind.USERS, "users": [aorg.s2_rep]}]
    )
    make_chain(
        departments=[aorg.departments["east"]],
        priority=10,
        steps=[{"kind": StepKind.USERS, "users": [aorg.north_other]}],
    )
    best = make_chain(
        departments=[aorg.departments["east"]], priority=1, steps=[{"kind": StepKind.USERS, "users": [aorg.ceo]}]
    )
    best.active = False
    best.save()

    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {"north_other"}


# --- step kinds -------------------------------------------------------------------------------


def test_the_leader_of_the_nearest_department_up_when_the_own_has_none(aorg):
    # 华南组 has no leader: 销售一部's leader approves.
    request = submit(aorg.south_rep, make_contract(aorg.south_rep, "1000.00"))
    assert pending_approvers(request) == {"s1_director"}


def test_a_leader_never_approves_their_own_contract_it_goes_up_a_level(aorg):
    request = submit(aorg.east_manager, make_contract(aorg.east_manager, "1000.00"))
    assert pending_approvers(request) == {"s1_director"}


def test_a_leader_submitting_a_colleagues_contract_does_not_approve_it_either(aorg):
    request = submit(aorg.east_manager, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {"s1_director"}


@pytest.mark.parametrize(("levels", "expected"), [(1, "east_lead"), (2, "s1_director"), (5, "s1_director")])
def test_manager_n_levels_up(aorg, levels, expected):
    # east_rep → east_lead → s1_director (the top: more levels than there are give the highest).
    make_chain(steps=[{"kind": StepKind.MANAGER, "levels": levels}], priority=1)
    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {expected}


def test_an_inactive_manager_is_passed_over_for_the_next_one_up(aorg):
    aorg.east_lead.is_active = False
    aorg.east_lead.save(update_fields=["is_active"])
    make_chain(steps=[{"kind": StepKind.MANAGER, "levels": 1}], priority=1)
    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {"s1_director"}


def test_named_users_any_one_of_them(aorg):
    make_chain(
        steps=[{"kind": StepKind.USERS, "users": [aorg.north_rep, aorg.s2_rep], "mode": StepMode.ANY}], priority=1
    )
    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {"north_rep", "s2_rep"}

    services.approval_approve(user=aorg.s2_rep, request=request)

    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    other = ApprovalTask.objects.get(request=request, approver=aorg.north_rep)
    assert other.decision == Decision.CANCELLED
    with pytest.raises(Exception) as raised:
        services.approval_approve(user=aorg.north_rep, request=request)
    assert raised.type.__name__ == "Http404"


def test_named_users_all_of_them(aorg):
    make_chain(
        steps=[{"kind": StepKind.USERS, "users": [aorg.north_rep, aorg.s2_rep], "mode": StepMode.ALL}], priority=1
    )
    contract = make_contract(aorg.east_rep, "1000.00")
    request = submit(aorg.east_rep, contract)

    services.approval_approve(user=aorg.s2_rep, request=request)
    request.refresh_from_db()
    contract.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert contract.status == ContractStatus.PENDING
    assert pending_approvers(request) == {"north_rep"}

    services.approval_approve(user=aorg.north_rep, request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED


def test_named_users_leave_out_the_submitter_and_inactive_people(aorg):
    aorg.s2_rep.is_active = False
    aorg.s2_rep.save(update_fields=["is_active"])
    make_chain(
        steps=[{"kind": StepKind.USERS, "users": [aorg.east_rep, aorg.s2_rep, aorg.north_rep], "mode": StepMode.ALL}],
        priority=1,
    )
    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {"north_rep"}


def test_role_any_holder(aorg):
    finance = RoleFactory(name="财务")
    aorg.north_other.roles.add(finance)
    aorg.s2_rep.roles.add(finance)
    make_chain(steps=[{"kind": StepKind.ROLE, "role": finance}], priority=1)
    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {"north_other", "s2_rep"}


def test_role_within_department_takes_the_nearest_holders_up_the_tree(aorg):
    finance = RoleFactory(name="财务")
    s1_finance = UserFactory(username="s1_finance", department=aorg.departments["s1"], roles=[finance])
    aorg.north_other.roles.add(finance)  # 销售二部's tree: not above 华东组
    make_chain(steps=[{"kind": StepKind.ROLE, "role": finance, "within_department": True}], priority=1)

    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert pending_approvers(request) == {s1_finance.username}

    # A holder in the document's own department is nearer.
    east_finance = UserFactory(username="east_finance", department=aorg.departments["east"], roles=[finance])
    request = submit(aorg.east_intern, make_contract(aorg.east_intern, "1000.00"))
    assert pending_approvers(request) == {east_finance.username}


def test_no_approver_found_goes_to_the_admins(aorg):
    # 华北组 and 销售二部 have no leader; 总公司's leader (ceo) is above them.
    aorg.departments["root"].leader = None
    aorg.departments["root"].save(update_fields=["leader", "updated_at"])
    other_admin = UserFactory(username="admin2", is_superuser=True)
    UserFactory(username="admin_gone", is_superuser=True, is_active=False)

    request = submit(aorg.north_rep, make_contract(aorg.north_rep, "1000.00"))

    assert pending_approvers(request) == {"admin", other_admin.username}
    assert ApprovalLog.objects.filter(request=request, action=LogAction.FALLBACK, step=1).exists()


def test_no_matching_chain_goes_to_the_admins(aorg):
    from approvals.models import ApprovalChain

    ApprovalChain.objects.update(active=False)
    request = submit(aorg.east_rep, make_contract(aorg.east_rep, "1000.00"))
    assert request.chain is None
    assert pending_approvers(request) == {"admin"}
    services.approval_approve(user=aorg.admin, request=request)
    request.refresh_from_db()
    assert request.status == RequestStatus.APPROVED


def test_an_approver_who_approved_an_earlier_step_is_not_asked_again(aorg):
    # 销售一部's leader holds the general manager approval too: a large contract of 华南组
    # (leader step → s1_director) needs their approval once.
    from approvals.tests.factories import general_manager_permission

    aorg.s1_director.user_permissions.add(general_manager_permission())
    aorg.gm.user_permissions.clear()
    contract = make_contract(aorg.south_rep, "80000.00")
    request = submit(aorg.south_rep, contract)
    assert pending_approvers(request) == {"s1_director"}

    services.approval_approve(user=aorg.s1_director, request=request)

    request.refresh_from_db()
    contract.refresh_from_db()
    assert request.status == RequestStatus.APPROVED
    assert contract.status == ContractStatus.APPROVED
    auto = ApprovalLog.objects.get(request=request, action=LogAction.AUTO_APPROVE)
    assert (auto.step, auto.actor) == (2, aorg.s1_director)


def test_a_department_without_path_or_owner_still_routes(aorg):
    # A contract with no owner and no department: leader step finds nobody → admins.
    lonely = DepartmentFactory(name="独立部门")
    contract = make_contract(None, "1000.00", department=lonely)
    request = submit(aorg.ceo, contract)
    assert pending_approvers(request) == {"admin"}


def test_the_demo_gives_the_general_manager_role_the_approval(db):
    from approvals.demo import load_demo
    from approvals.tests.factories import general_manager_permission
    from staff.models import Role

    role = Role.objects.create(name="总经理", data_scope="all")
    ceo = UserFactory(username="demo_ceo", roles=[role])
    load_demo()
    assert ceo.has_perm("approvals.approve_as_general_manager")
    assert role.permissions.filter(pk=general_manager_permission().pk).exists()
