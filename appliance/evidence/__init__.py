"""What the box can tell a hiring team from an interview's transcript beyond the transcript
itself, computed on the box: the interview's figures (`interview_data.py`)."""
