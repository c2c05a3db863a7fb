"""After the call: submitted scorecards kept independent, the debrief of a candidate's rounds,
and the hiring decision."""
