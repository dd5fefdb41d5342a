"""What makers read in the flow designer for each column and field: a title-case name (``x-ms-summary``) and a
sentence that adds to it, written to Microsoft's connector string guidance (connector/lint.py checks them)."""

from __future__ import annotations

from typing import Any

# What both tables' columns share, under their own names.
STATE = ("State Code", "0 Ready, 1 Suspended, 2 Locked or 3 Completed.")
STATUS = ("Status Code", "0 Waiting for resources, 10 Waiting, 20 In progress, 21 Pausing, 22 Canceling, 30 Succeeded, "
                         "31 Failed or 32 Canceled.")
_SHARED = {
    "postponeuntil": ("Postpone Until", "When a postponed or recurring one runs next, in UTC."),
    "recurrencepattern": ("Recurrence Pattern", "The RRULE a recurring job follows."),
    "errorcode": ("Error Code", "The last failure's error code."),
    "retrycount": ("Retry Count", "How many times it was retried after a failed attempt."),
    "createdon": ("Created On", "When it was submitted, in UTC."),
    "modifiedon": ("Modified On", "When its row last changed, in UTC."),
    "dependencytoken": ("Dependency Token", "The line it runs one at a time in."),
}

# backgroundoperations' columns.
COLUMNS: dict[str, tuple[str, str]] = {
    **_SHARED,
    "backgroundoperationid": ("Operation ID", "The background operation's unique identifier, a GUID."),
    "name": ("Operation Name", "The name of the operation that was run, as registered."),
    "displayname": ("Display Name", "The operation's name as people read it."),
    "backgroundoperationstatecode": STATE, "backgroundoperationstatuscode": STATUS,
    "inputparameters": ("Input Parameters", "The inputs it was given, as Key/Value pairs in JSON."),
    "outputparameters": ("Output Parameters", "The outputs it returned, as Key/Value pairs in JSON."),
    "starttime": ("Start Time", "When its first attempt started, in UTC."),
    "endtime": ("End Time", "When it finished, in UTC."),
    "errormessage": ("Error Message", "The last failure's message."),
    "runas": ("Run As", "The principal it was submitted as, when App Service Authentication is on."),
    "ttlinseconds": ("Time to Live", "Seconds the row is kept after it is created, or after a recurring job's "
                                     "last run."),
    "progresspercent": ("Progress Percent", "How far the running attempt is, from 0 to 100."),
    "progressmessage": ("Progress Message", "What the running attempt says it is doing."),
    "recentruns": ("Recent Runs", "A recurring job's last runs, as JSON."),
    "callbackstate": ("Callback State", "Where its callback stands: unsent, pending, sending, delivered or "
                                        "failed."),
    "attemptstarts": ("Attempt Starts", "When each attempt of this run started, as JSON."),
    "attempts": ("Attempts", "Each attempt of this run, with its outcome and error, as JSON."),
    "traceparent": ("Trace Parent", "Its trace, as a W3C traceparent: the trace ID, and the span ID of its submit."),
    "waitingbehind": ("Waiting Behind", "The operation whose turn it is in its line while it waits; read for one "
                                        "row only."),
}

# asyncoperations' columns (the System Job table's names).
SYSTEM_JOB_COLUMNS: dict[str, tuple[str, str]] = {
    **_SHARED,
    "asyncoperationid": ("System Job ID", "The system job's unique identifier, a GUID."),
    "name": ("System Job Name", "The name of the operation the job runs."),
    "operationtype": ("Operation Type", "54, Execute async request, for every job of this app."),
    "statecode": STATE, "statuscode": STATUS,
    "recurrencestarttime": ("Recurrence Start Time", "When a recurring job's pattern counts from, in UTC."),
    "message": ("Message", "The last failure's message."),
    "friendlymessage": ("Friendly Message", "The last failure's message, as people read it."),
    "startedon": ("Started On", "When the job's run started, in UTC."),
    "completedon": ("Completed On", "When the job finished, in UTC."),
    "executiontimespan": ("Execution Time", "Seconds the job's run took."),
}


def labelled(schema: dict[str, Any], summary: str, description: str) -> dict[str, Any]:
    """``schema`` with the name and the sentence a maker reads."""
    return {**schema, "x-ms-summary": summary, "description": description}
