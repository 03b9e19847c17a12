"""Matching the caller API Gateway reports to the agent a decision names (no Django here)."""

import pytest

from gqlgov_verify.caller import arn_is_role, caller_matches


@pytest.mark.parametrize(
    ("caller", "role"),
    [
        ("arn:aws:sts::123456789012:assumed-role/support-bot/session-1", "arn:aws:iam::123456789012:role/support-bot"),
        (
            "arn:aws:sts::123456789012:assumed-role/support-bot/i-0abc",
            "arn:aws:iam::123456789012:role/agents/eu/support-bot",
        ),
        ("arn:aws-cn:sts::123456789012:assumed-role/bot/s", "arn:aws-cn:iam::123456789012:role/bot"),
        ("arn:aws:iam::123456789012:role/support-bot", "arn:aws:iam::123456789012:role/support-bot"),
    ],
)
def test_a_session_of_the_role_or_the_role_itself_is_the_agent(caller, role):
    assert arn_is_role(caller, role)


@pytest.mark.parametrize(
    ("caller", "role"),
    [
        ("arn:aws:sts::210987654321:assumed-role/support-bot/s", "arn:aws:iam::123456789012:role/support-bot"),
        ("arn:aws:sts::123456789012:assumed-role/support-bot-2/s", "arn:aws:iam::123456789012:role/support-bot"),
        ("arn:aws-us-gov:sts::123456789012:assumed-role/bot/s", "arn:aws:iam::123456789012:role/bot"),
        ("arn:aws:iam::123456789012:user/support-bot", "arn:aws:iam::123456789012:role/support-bot"),
        ("arn:aws:sts::123456789012:federated-user/support-bot", "arn:aws:iam::123456789012:role/support-bot"),
        ("arn:aws:sts::123456789012:assumed-role/support-bot", "arn:aws:iam::123456789012:role/support-bot"),
        ("arn:aws:sts::123456789012:assumed-role/support-bot/s/x", "arn:aws:iam::123456789012:role/support-bot"),
        ("arn:aws:sts:us-east-1:123456789012:assumed-role/bot/s", "arn:aws:iam::123456789012:role/bot"),
        ("arn:aws:sts::123456789012:assumed-role/bot/s", "arn:aws:iam::123456789012:user/bot"),
        ("arn:aws:sts::123456789012:assumed-role/bot/s", "not-an-arn"),
    ],
)
def test_another_account_role_partition_or_principal_kind_is_not_the_agent(caller, role):
    assert not arn_is_role(caller, role)


def test_a_name_is_compared_with_the_subject_and_an_arn_with_the_role():
    claims = {"sub": "support-bot", "iam_role_arn": "arn:aws:iam::123456789012:role/support-bot"}

    assert caller_matches(claims, "support-bot")
    assert not caller_matches(claims, "reports-bot")
    assert caller_matches(claims, "arn:aws:sts::123456789012:assumed-role/support-bot/s")
    assert not caller_matches({"sub": "support-bot"}, "arn:aws:sts::123456789012:assumed-role/support-bot/s")
