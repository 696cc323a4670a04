"""The conversation's states in one place: what the bot waits for from a person, and what ends the wait.

A person is in one state at a time, stored in the `conversation` table (so a restart or another replica
goes on where the dialogue was). Handlers enter a state with `ctx.expect(Waiting.X, …)` and leave it with
`ctx.expect_nothing()`; the router hands a free text to the handler registered for the person's state
(`router.state(Waiting.X)`), else to the role's text handler. `TRANSITIONS` says, for every state, what
enters it, which input it expects and what ends it; `diagram()` draws it (docs/architecture.md carries
the drawing, and a test keeps the two the same).

Tickets have a lifecycle of their own (new, open, waiting, resolved, closed: `tickets.transition`); the
conversation state is only where a person's dialogue with the bot stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Waiting(StrEnum):
    """What the bot waits for from this person."""

    NOTHING = ""  # idle: a text is a question (practitioner) or a message to the current ticket (staff)
    NEW_QUESTION = "new_question"
    RATING_COMMENT = "rating_comment"
    PROFILE = "profile"
    TICKET = "ticket"
    OUTCOME_COMMENT = "outcome_comment"


@dataclass(frozen=True)
class Transition:
    """One state: who is in it, what puts them there, which input it expects, what ends it."""

    state: Waiting
    who: str
    entered_by: str
    expects: str
    ended_by: str


TRANSITIONS: tuple[Transition, ...] = (
    Transition(Waiting.NEW_QUESTION, "practitioner", "/new",
               "the question (text or a file)",
               "that question, which becomes a ticket in the routed queue without the FAQ "
               "(the topic is asked when routing cannot tell)"),
    Transition(Waiting.RATING_COMMENT, "practitioner", "a rating button (1-5 stars)",
               "a comment on the rating",
               "the comment, the 'no comment' button, or a new question (answered as one)"),
    Transition(Waiting.PROFILE, "practitioner", "/profile or the profile offer's 'fill in' button",
               "the answer to the current step (country, institution, role, sector) or its button",
               "the last step, or a new question (answered as one)"),
    Transition(Waiting.TICKET, "expert, lead, secretariat", "/claim N (or the Claim button) or /open N",
               "free text for that ticket's practitioner (`//` for an internal note)",
               "/release, /resolve or /outofscope of it (claiming or opening another ticket moves to that one)"),
    Transition(Waiting.OUTCOME_COMMENT, "practitioner", "an answer button to 'did you apply it?'",
               "a comment on how the advice was used",
               "the comment, the 'no comment' button, or a new question (answered as one)"),
)
ENDS_EVERY_STATE = ("/start", "/forgetme")  # besides each state's own ends


def diagram() -> str:
    """The states as a Mermaid state diagram (what docs/architecture.md shows)."""
    lines = ["stateDiagram-v2"]
    for step in TRANSITIONS:
        lines.append(f"    Idle --> {step.state.value}: {step.entered_by}")
        lines.append(f"    {step.state.value} --> Idle: {step.ended_by}")
    return "\n".join(lines)
