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
