"""Pure domain logic: no boto3, no I/O. Everything here is unit-tested without AWS."""

#: what a loan's own data raises in the domain (an absurd date, a malformed entry): retrying cannot
#: help, so a stage records the loan with the reason and goes on with the others
DATA_ERRORS = (ArithmeticError, ValueError, TypeError, KeyError)
