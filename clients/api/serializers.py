from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, so a typo is a 400, not a silently ignored field."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: "Unknown field." for key in unknown})
        return super().to_internal_value(data)


class SignInMessageSerializer(serializers.Serializer):
    message = serializers.CharField()
    nonce = serializers.CharField()
    expires_at = serializers.DateTimeField()


class VerifySerializer(StrictSerializer):
    wallet_address = serializers.CharField(max_length=100)
    message = serializers.CharField(max_length=4000, trim_whitespace=False)
    signature = serializers.CharField(max_length=400)


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    wallet_address = serializers.CharField()
    role = serializers.CharField()
    name = serializers.CharField()
    account_identifier = serializers.CharField()


class TokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)
    user = UserSerializer()


MAX_ID = 2**63 - 1


def wallet_json(wallet) -> dict:
    return {"id": wallet.pk, "address": wallet.address, "chain": wallet.chain, "label": wallet.label,
            "has_key": wallet.has_private_key}


def connector_json(account) -> dict:
    credential = getattr(account, "credential", None) if _has_credential(account) else None
    return {
        "id": account.pk, "exchange": account.exchange, "label": account.name, "name": account.name,
        "api_key_preview": credential.key_hint if credential else None, "has_key": credential is not None,
        "is_active": account.test_ok is not False,
        "wallet_address": account.wallet.address if account.wallet_id and account.wallet else None,
    }


def _has_credential(account) -> bool:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        return account.credential is not None
    except ObjectDoesNotExist:
        return False


def client_json(client) -> dict:
    wallets = list(client.wallets.all())
    return {
        "id": client.pk, "client_id": client.pk, "name": client.name, "email": client.email,
        "account_identifier": client.account_identifier, "role": client.role,
        "status": "active" if client.is_active else "inactive", "management_mode": client.management_mode,
        "wallet_address": wallets[0].address if wallets else None,
        "wallets": [wallet_json(w) for w in wallets],
        "connectors": [connector_json(a) for a in client.exchange_accounts.all()],
        "created_at": client.created_at,
    }


class WalletOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    address = serializers.CharField()
    chain = serializers.CharField()


class ConnectorOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    exchange = serializers.CharField()
    label = serializers.CharField()
    api_key_preview = serializers.CharField(allow_null=True)
    is_active = serializers.BooleanField()


class ClientOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.CharField()
    account_identifier = serializers.CharField()
    role = serializers.CharField()
    status = serializers.CharField()
    management_mode = serializers.CharField()
    wallet_address = serializers.CharField(allow_null=True)
    wallets = WalletOutSerializer(many=True)
    connectors = ConnectorOutSerializer(many=True)
    created_at = serializers.DateTimeField()


class ClientCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(["client", "admin"], required=False)
    management_mode = serializers.ChoiceField(["self", "managed"], required=False)
    wallet_address = serializers.CharField(max_length=100, required=False, allow_blank=True)
    chain = serializers.ChoiceField(["solana", "evm"], required=False)
    account_identifier = serializers.CharField(required=False)  # ignored: we assign it


class ClientUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, required=False)
    email = serializers.EmailField(required=False, allow_blank=True)
    role = serializers.ChoiceField(["client", "admin"], required=False)
    management_mode = serializers.ChoiceField(["self", "managed"], required=False)
    status = serializers.ChoiceField(["active", "inactive"], required=False)
    # Read-only fields an edit form sends back.
    id = serializers.IntegerField(required=False)
    account_identifier = serializers.CharField(required=False)
    wallet_address = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    wallets = serializers.ListField(required=False)
    connectors = serializers.ListField(required=False)
    created_at = serializers.CharField(required=False)


class ManagementModeSerializer(StrictSerializer):
    management_mode = serializers.ChoiceField(["self", "managed"], required=False)
    mode = serializers.ChoiceField(["self", "managed"], required=False)


class PrivateKeySerializer(StrictSerializer):
    private_key = serializers.CharField(max_length=1024, write_only=True)
    wallet_address = serializers.CharField(max_length=100, required=False)
    chain = serializers.ChoiceField(["solana"], required=False)


class WalletInSerializer(StrictSerializer):
    address = serializers.CharField(max_length=100, required=False)
    wallet_address = serializers.CharField(max_length=100, required=False)
    chain = serializers.ChoiceField(["solana", "evm"], required=False)
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ConnectorInSerializer(StrictSerializer):
    exchange = serializers.CharField(max_length=40, required=False)
    connector = serializers.CharField(max_length=40, required=False)
    name = serializers.CharField(max_length=100, required=False)
    label = serializers.CharField(max_length=100, required=False)
    account = serializers.CharField(max_length=100, required=False)
    api_key = serializers.CharField(max_length=512, write_only=True, required=False, allow_blank=True)
    api_secret = serializers.CharField(max_length=1024, write_only=True, required=False, allow_blank=True)
    secret = serializers.CharField(max_length=1024, write_only=True, required=False, allow_blank=True)
    memo = serializers.CharField(max_length=256, write_only=True, required=False, allow_blank=True)
    passphrase = serializers.CharField(max_length=256, write_only=True, required=False, allow_blank=True)
    private_key = serializers.CharField(max_length=1024, write_only=True, required=False, allow_blank=True)
