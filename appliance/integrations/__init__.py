"""What connects the box to a company's other systems once an administrator says so: webhooks
to an applicant tracking system (nothing is sent while none is configured)."""
