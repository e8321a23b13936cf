"""Operations on the database behind the routers; each commits its own transaction."""
