using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class SvixSurface : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_event_types_application_id_name",
                table: "event_types");

            migrationBuilder.AddColumn<string>(
                name: "event_id",
                table: "messages",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "raw",
                table: "messages",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AlterColumn<string>(
                name: "application_id",
                table: "event_types",
                type: "text",
                nullable: true,
                oldClrType: typeof(string),
                oldType: "text");

            migrationBuilder.AddColumn<bool>(
                name: "deprecated",
                table: "event_types",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "feature_flag",
                table: "event_types",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "schemas",
                table: "event_types",
                type: "jsonb",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "uid",
                table: "endpoints",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "metadata",
                table: "applications",
                type: "jsonb",
                nullable: false,
                defaultValueSql: "'{}'::jsonb");

            migrationBuilder.CreateTable(
                name: "idempotent_responses",
                columns: table => new
                {
                    key_hash = table.Column<byte[]>(type: "bytea", nullable: false),
                    status = table.Column<int>(type: "integer", nullable: true),
                    content_type = table.Column<string>(type: "text", nullable: true),
                    body = table.Column<byte[]>(type: "bytea", nullable: true),
                    locked_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_idempotent_responses", x => x.key_hash);
                });

            migrationBuilder.CreateIndex(
                name: "ix_messages_application_id_event_id",
                table: "messages",
                columns: new[] { "application_id", "event_id" },
                unique: true,
                filter: "event_id IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_event_types_application_id_name",
                table: "event_types",
                columns: new[] { "application_id", "name" },
                unique: true)
                .Annotation("Npgsql:NullsDistinct", false);

            migrationBuilder.CreateIndex(
                name: "ix_endpoints_application_id_uid",
                table: "endpoints",
                columns: new[] { "application_id", "uid" },
                unique: true,
                filter: "uid IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "ix_idempotent_responses_created_at",
                table: "idempotent_responses",
                column: "created_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "idempotent_responses");

            migrationBuilder.DropIndex(
                name: "ix_messages_application_id_event_id",
                table: "messages");

            migrationBuilder.DropIndex(
                name: "ix_event_types_application_id_name",
                table: "event_types");

            migrationBuilder.DropIndex(
                name: "ix_endpoints_application_id_uid",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "event_id",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "raw",
                table: "messages");

            migrationBuilder.DropColumn(
                name: "deprecated",
                table: "event_types");

            migrationBuilder.DropColumn(
                name: "feature_flag",
                table: "event_types");

            migrationBuilder.DropColumn(
                name: "schemas",
                table: "event_types");

            migrationBuilder.DropColumn(
                name: "uid",
                table: "endpoints");

            migrationBuilder.DropColumn(
                name: "metadata",
                table: "applications");

            migrationBuilder.AlterColumn<string>(
                name: "application_id",
                table: "event_types",
                type: "text",
                nullable: false,
                defaultValue: "",
                oldClrType: typeof(string),
                oldType: "text",
                oldNullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_event_types_application_id_name",
                table: "event_types",
                columns: new[] { "application_id", "name" },
                unique: true);
        }
    }
}
