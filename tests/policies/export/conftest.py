from tests.fixtures.moto_server import aws_credentials, moto_server, moto_url  # noqa: F401
