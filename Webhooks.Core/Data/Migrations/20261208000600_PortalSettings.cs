using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Webhooks.Core.Data.Migrations
{
    /// <inheritdoc />
    public partial class PortalSettings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // The message list's search by payload (PayloadSearch).
            migrationBuilder.Sql(PayloadSearch.CreateFunction);
            migrationBuilder.AddColumn<string>(
                name: "portal_accent_color",
                table: "applications",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string[]>(
                name: "portal_frame_ancestors",
                table: "applications",
                type: "text[]",
                nullable: false,
                defaultValueSql: "'{}'::text[]");

            migrationBuilder.AddColumn<string>(
                name: "portal_logo_url",
                table: "applications",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "portal_name",
                table: "applications",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "portal_theme",
                table: "applications",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql(PayloadSearch.DropFunction);
            migrationBuilder.DropColumn(
                name: "portal_accent_color",
                table: "applications");

            migrationBuilder.DropColumn(
                name: "portal_frame_ancestors",
                table: "applications");

            migrationBuilder.DropColumn(
                name: "portal_logo_url",
                table: "applications");

            migrationBuilder.DropColumn(
                name: "portal_name",
                table: "applications");

            migrationBuilder.DropColumn(
                name: "portal_theme",
                table: "applications");
        }
    }
}
